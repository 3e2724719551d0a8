package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/mqtt"
)

// Options configures Open, the body of `edgegw open`.
type Options struct {
	Subscribe mqtt.SubscribeConfig // used when Files is empty
	Files     []string             // envelope files to open instead of subscribing
	Dirs      []string             // buffer exports (see ExportDir) to open instead of subscribing
	Count     uint64               // stop after this many readings (0 = no limit)
	Timeout   time.Duration        // stop after this long (0 = no limit)
}

// Kinds of the JSON lines Open prints: the "kind" member of each.
const (
	KindReading = "reading" // an opened reading: Record
	KindAudit   = "audit"   // a signed audit record: AuditLine
	KindGap     = "gap"     // a signed gap record: GapLine
	KindReject  = "reject"  // an envelope refused: RejectLine
)

// AuditLine is the line Open prints for a signed audit record.
type AuditLine struct {
	Kind    string          `json:"kind"` // KindAudit
	Gateway string          `json:"gateway"`
	Seq     uint64          `json:"seq"`
	Created string          `json:"created"` // when the gateway wrote it, RFC 3339 UTC
	Record  json.RawMessage `json:"record"`  // the audit record, the JSON object the gateway signed
}

// GapLine is the line Open prints for a signed gap record: the gateway
// dropped the batches FromSeq..ToSeq.
type GapLine struct {
	Kind     string `json:"kind"` // KindGap
	Gateway  string `json:"gateway"`
	Seq      uint64 `json:"seq"`
	FromSeq  uint64 `json:"from_seq"`
	ToSeq    uint64 `json:"to_seq"`
	Batches  uint64 `json:"batches"`
	Readings uint64 `json:"readings"`
	Reason   string `json:"reason"`
}

// RejectLine is the line Open prints for an envelope it refused.
type RejectLine struct {
	Kind    string `json:"kind"`              // KindReject
	Source  string `json:"source"`            // the topic, or the file
	Gateway string `json:"gateway,omitempty"` // the gateway its header claims, when readable
	Reason  string `json:"reason"`            // the stable rejection reason (docs/envelope.md)
	Error   string `json:"error"`             // the rejection in full
}

// Open receives envelopes from the broker (or files) and prints one JSON
// object per line on out for each opened reading, audit record, gap record
// and rejected envelope (distinguished by their "kind"); it also reports
// rejections on errOut as they happen, and returns the summary when the
// count of readings is reached, the timeout passes or ctx is done. It
// returns an error wrapping ErrRejected when it rejected envelopes.
func Open(ctx context.Context, r *Receiver, o Options, out, errOut io.Writer) (Summary, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	p := &printer{r: r, enc: json.NewEncoder(out), errOut: errOut, count: o.Count, done: stop}
	if len(o.Dirs) > 0 {
		err := openExports(r, o.Dirs, p)
		return r.Summary(), err
	}
	if len(o.Files) > 0 {
		for _, f := range o.Files {
			wire, err := readEnvelope(f)
			if err != nil {
				return r.Summary(), err
			}
			p.handle(f, "", wire)
		}
		return r.Summary(), errors.Join(p.err, rejected(r.Summary()))
	}
	err := mqtt.Subscribe(ctx, o.Subscribe, func(topic string, payload []byte) { p.handle(topic, topic, payload) })
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return r.Summary(), errors.Join(err, p.err, rejected(r.Summary()))
}

// ErrRejected is returned by Open when it rejected envelopes: the command
// exits non-zero so that a script notices.
var ErrRejected = errors.New("envelopes rejected")

func rejected(s Summary) error {
	var n uint64
	for _, v := range s.Rejected {
		n += v
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d", ErrRejected, n)
}

// readEnvelope reads an envelope file, refusing one larger than an envelope
// can be before reading it.
func readEnvelope(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read envelope: %w", err)
	}
	if fi.Size() > envelope.MaxSize {
		return nil, fmt.Errorf("read envelope: %s: %d bytes, more than an envelope's %d", path, fi.Size(), envelope.MaxSize)
	}
	wire, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read envelope: %w", err)
	}
	return wire, nil
}

// printer writes opened readings as JSON lines and counts them.
type printer struct {
	r      *Receiver
	enc    *json.Encoder
	errOut io.Writer
	count  uint64
	done   func()

	mu      sync.Mutex
	printed uint64
	err     error
}

func (p *printer) handle(source, topic string, wire []byte) {
	res, err := p.r.Handle(topic, wire)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		fmt.Fprintf(p.errOut, "rejected %s: %v\n", source, err)
		p.write(RejectLine{Kind: KindReject, Source: source, Gateway: ClaimedGateway(wire), Reason: Reason(err), Error: err.Error()})
		return
	}
	if res.Audit != nil {
		p.write(AuditLine{Kind: KindAudit, Gateway: res.Gateway, Seq: res.Seq, Created: res.Created.UTC().Format(time.RFC3339), Record: res.Audit})
	}
	if g := res.Gap; g != nil {
		p.write(GapLine{Kind: KindGap, Gateway: res.Gateway, Seq: res.Seq, FromSeq: g.FromSeq, ToSeq: g.ToSeq, Batches: g.Batches, Readings: g.Readings, Reason: g.Reason})
	}
	for _, rec := range res.Records() {
		if p.count > 0 && p.printed >= p.count {
			break
		}
		p.write(rec)
		p.printed++
	}
	if p.count > 0 && p.printed >= p.count {
		p.done()
	}
}

// write prints one line, keeping the first error; p.mu is held.
func (p *printer) write(line any) {
	if err := p.enc.Encode(line); err != nil && p.err == nil {
		p.err = fmt.Errorf("write output: %w", err)
	}
}

// openExports opens buffer exports: every envelope file, then a check of each
// signed manifest against what was received, so that an export that lost
// files on the way is reported, not silently short.
func openExports(r *Receiver, dirs []string, p *printer) error {
	var errs []error
	for _, dir := range dirs {
		envs, manifests, err := exportFiles(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(manifests) == 0 {
			errs = append(errs, fmt.Errorf("export %s: no %s: the export is incomplete or not an edgegw export", dir, ManifestFile))
		}
		for _, f := range envs {
			wire, err := readEnvelope(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.handle(f, "", wire)
		}
		for _, mf := range manifests {
			errs = append(errs, r.checkManifest(mf))
		}
	}
	return errors.Join(append(errs, p.err, rejected(r.Summary()))...)
}
