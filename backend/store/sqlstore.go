package store

import (
	"context"
	"fmt"
	"time"
)

// sqlStore implements the Store methods that both engines run the same way
// over a querier: reads through read, writes in a transaction of inTx. The
// engines embed it, set commit and add Close.
type sqlStore struct {
	d     *dialect
	where string // the database as errors name it: "postgres", "sqlite database PATH"
	read  func() querier
	inTx  func(ctx context.Context, fn func(q querier) error) error
	// commit stores batches already validated, at least one.
	commit func(ctx context.Context, batches []Batch) ([]Outcome, error)
}

// Commit implements Store.
func (s *sqlStore) Commit(ctx context.Context, batches []Batch) ([]Outcome, error) {
	for i := range batches {
		if err := validate(&batches[i]); err != nil {
			return nil, err
		}
	}
	if len(batches) == 0 {
		return []Outcome{}, nil
	}
	return s.commit(ctx, batches)
}

// commitInTx stores validated batches in one transaction of inTx.
func (s *sqlStore) commitInTx(ctx context.Context, batches []Batch) ([]Outcome, error) {
	var out []Outcome
	err := s.inTx(ctx, func(q querier) error {
		var err error
		out, err = commitTx(ctx, q, s.d, batches, time.Now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("commit %d batches to %s: %w", len(batches), s.where, err)
	}
	return out, nil
}

// Reject implements Store.
func (s *sqlStore) Reject(ctx context.Context, rejects []Reject) error {
	if len(rejects) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(q querier) error { return insertRejects(ctx, q, s.d, rejects) })
	if err != nil {
		return fmt.Errorf("record %d rejects in %s: %w", len(rejects), s.where, err)
	}
	return nil
}

// Committed implements Store.
func (s *sqlStore) Committed(ctx context.Context, gateway string) ([][2]uint64, error) {
	return committed(ctx, s.read(), gateway)
}

// Missing implements Store.
func (s *sqlStore) Missing(ctx context.Context, gateway string) ([]MissingRange, error) {
	return missing(ctx, s.read(), gateway)
}

// Received implements Store.
func (s *sqlStore) Received(ctx context.Context, gateway string, seqs []uint64) (map[uint64]time.Time, error) {
	return received(ctx, s.read(), gateway, seqs)
}

// Stats implements Store.
func (s *sqlStore) Stats(ctx context.Context) (Stats, error) {
	return stats(ctx, s.read())
}

// RecordDocs implements Store.
func (s *sqlStore) RecordDocs(ctx context.Context, docs []Doc, keep int) error {
	for i := range docs {
		if err := checkDoc(&docs[i]); err != nil {
			return err
		}
	}
	if len(docs) == 0 {
		return nil
	}
	keep = max(keep, 1)
	err := s.inTx(ctx, func(q querier) error { return recordDocs(ctx, q, s.d, docs, keep) })
	if err != nil {
		return fmt.Errorf("record %d documents in %s: %w", len(docs), s.where, err)
	}
	return nil
}

// Docs implements Store.
func (s *sqlStore) Docs(ctx context.Context, kind, gateway string) ([]Doc, error) {
	return docs(ctx, s.read(), kind, gateway)
}

// DocHistory implements Store.
func (s *sqlStore) DocHistory(ctx context.Context, gateway, kind string, since time.Time) ([]Doc, error) {
	return docHistory(ctx, s.read(), s.d, gateway, kind, since)
}

// Activity implements Store.
func (s *sqlStore) Activity(ctx context.Context, gateway string) ([]Activity, error) {
	return activity(ctx, s.read(), gateway)
}

// LatestReadings implements Store.
func (s *sqlStore) LatestReadings(ctx context.Context, gateway string) ([]LatestReading, error) {
	return latestReadings(ctx, s.read(), gateway)
}

// Series implements Store.
func (s *sqlStore) Series(ctx context.Context, gateway string, since time.Time) ([]Reading, error) {
	return series(ctx, s.read(), s.d, gateway, since)
}

// FleetStates implements Store.
func (s *sqlStore) FleetStates(ctx context.Context) ([]FleetState, error) {
	return fleetStates(ctx, s.read())
}

// RecordTransitions implements Store.
func (s *sqlStore) RecordTransitions(ctx context.Context, ts []Transition) ([]Transition, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	var applied []Transition
	err := s.inTx(ctx, func(q querier) error {
		var err error
		applied, err = recordTransitions(ctx, q, s.d, ts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record %d fleet transitions in %s: %w", len(ts), s.where, err)
	}
	return applied, nil
}

// Transitions implements Store.
func (s *sqlStore) Transitions(ctx context.Context, gateway string, since time.Time, limit int) ([]Transition, error) {
	return transitions(ctx, s.read(), s.d, gateway, since, limit)
}
