package buffer

import "time"

// Batch is a closed batch: its header, its sealed chunks in order and its
// signed trailer, ready to be published.
type Batch struct {
	Seq      uint64    // per-gateway sequence number, starting at 1
	Class    string    // data class; also the last topic level ("telemetry", "personal", "gap")
	Header   []byte    // encoded envelope header
	Chunks   [][]byte  // sealed chunks in the order they were appended
	Trailer  []byte    // COSE_Sign1 trailer; nil while the batch is open
	Readings int       // number of readings in the chunks (clear metadata, for accounting)
	Created  time.Time // when the batch was begun
}

// Gap describes batches the buffer dropped (because of its limits, a full
// disk or a damaged file), so that a signed gap record can tell the backend
// about them.
type Gap struct {
	FromSeq  uint64 // first dropped sequence number
	ToSeq    uint64 // last dropped sequence number (inclusive)
	Batches  uint64 // number of batches dropped in that range
	Readings uint64 // number of readings in them
	// Reason is one of the Reason constants, such as "max-bytes"; a gap
	// whose Batches and Readings are not known (zero) adds
	// ",count-unknown" (ReasonCountUnknown).
	Reason string
}

// Stats describes the buffer's content.
type Stats struct {
	Batches         int       // closed batches waiting for an acknowledgement
	OpenBatches     int       // batches without a trailer yet
	Readings        int64     // readings in all stored batches
	Bytes           int64     // bytes of headers, chunks and trailers stored
	Oldest          time.Time // creation time of the oldest stored batch; zero when empty
	NextSeq         uint64    // sequence number the next Begin will assign
	DroppedBatches  uint64    // batches dropped because of the limits since the file was created
	DroppedReadings uint64    // readings in them
	Pending         int       // operations accepted but not yet committed
	CommitErr       error     // why commits fail, while they do; nil when the last commit succeeded
}

// Store is the store-and-forward queue between the pipeline and the uplink.
// Both the bbolt file and the in-memory twin implement it with the same
// contract, checked by one test suite (buffertest).
type Store interface {
	// Begin assigns the next sequence number and stores the header that build
	// returns for it, in the same transaction, so a crash can neither reuse
	// nor skip a number. The batch is open until Seal.
	Begin(class string, created time.Time, build func(seq uint64) ([]byte, error)) (uint64, error)
	// Append adds a sealed chunk to open batch seq. It is durable once the
	// durability window has passed (group commit), or before Append returns
	// when the window is zero. It returns ErrUnknownBatch when the store
	// dropped the batch (reported in a gap): the caller begins a new one.
	Append(seq uint64, chunk []byte, readings int) error
	// Seal stores the trailer of open batch seq, closing it. Like Append it
	// is durable within the durability window (Sync commits at once); a
	// batch closed but not yet committed when a crash happens is closed again
	// from its stored chunks at the next start, with the same trailer.
	Seal(seq uint64, trailer []byte) error
	// Unsealed returns the committed batches that have no trailer, oldest
	// first: after a restart these are the batches a crash left open.
	Unsealed() ([]Batch, error)
	// Next returns up to max committed closed batches with a sequence number
	// greater than after, in ascending order.
	Next(after uint64, max int) ([]Batch, error)
	// Ack deletes acknowledged batches. Deletions may be group-committed: a
	// crash then redelivers, never loses.
	Ack(seqs ...uint64) error
	// TakeGap, when the buffer has dropped batches not yet reported, stores
	// for each pending gap the closed batch that build returns for it under
	// the next sequence number, and clears them, all in one transaction. It
	// reports whether gap records were stored.
	TakeGap(build func(seq uint64, g Gap) (Batch, error)) (bool, error)
	// Put stores the closed batch that build returns for the next sequence
	// number (a signed record such as an audit event) and commits it, with
	// everything pending, before returning.
	Put(build func(seq uint64) (Batch, error)) (uint64, error)
	// Sync commits everything pending.
	Sync() error
	// Stats describes the content.
	Stats() Stats
	// Close commits everything pending and releases the store.
	Close() error
}
