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

// Open receives envelopes from the broker (or files), prints one JSON object
// per opened reading on out, reports rejections on errOut as they happen and
// returns the summary when the count is reached, the timeout passes or ctx is
// done.
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
		return
	}
	if res.Audit != nil {
		fmt.Fprintf(p.errOut, "audit record from %s seq %d: %s\n", res.Gateway, res.Seq, res.Audit)
	}
	if res.Gap != nil {
		fmt.Fprintf(p.errOut, "gap record from %s seq %d: seq %d..%d dropped (%d readings, %s)\n",
			res.Gateway, res.Seq, res.Gap.FromSeq, res.Gap.ToSeq, res.Gap.Readings, res.Gap.Reason)
	}
	for _, rec := range res.Records() {
		if p.count > 0 && p.printed >= p.count {
			break
		}
		if err := p.enc.Encode(rec); err != nil && p.err == nil {
			p.err = fmt.Errorf("write reading: %w", err)
		}
		p.printed++
	}
	if p.count > 0 && p.printed >= p.count {
		p.done()
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
