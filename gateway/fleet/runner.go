package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/control"
	"golang.org/x/sys/unix"
)

// StateFile is the name of the persisted fleet state in the state directory.
const StateFile = "fleet.json"

// state is the persisted configuration state: it survives a reboot in the
// middle of an apply, so the gateway resumes probation or rolls back.
type state struct {
	Status
	Failed     uint64    `json:"failed,omitempty"`      // the last version rolled back: a document at or below it is rejected
	FailedHash string    `json:"failed_hash,omitempty"` // its configuration's digest: its retained document is passed over
	Trust      uint64    `json:"trust,omitempty"`       // version of the pinned ops key set, from rotation documents
	Deadline   time.Time `json:"deadline,omitzero"`     // end of probation
}

// Runner runs the gateway under fleet control. It applies signed
// configurations pushed by operations and configurations an admin applies
// on the control socket: verify, write the applied configuration into the
// state directory as it was signed or given (see Source for the layout and
// precedence), swap the agent (drivers and uplink) without touching the
// buffer, and hold the new configuration on probation; if it does not reach
// the broker and poll every device in time, the runner restores the
// last-known-good configuration by itself and reports why. Every document it
// refuses is reported (config status, audit, log) with its reason.
type Runner struct {
	Path string       // the operator's configuration file (run --config); never written
	Deps gateway.Deps // for each agent, which runs under the runner (gateway.Fleet)
	// Check is the interval of probation checks; 1s when zero.
	Check time.Duration

	docs      chan []byte
	local     chan localApply
	pending   string // a rollback reason to audit once the next agent runs
	statePath string
	dir       string     // the fleet files: <state>/ConfigDir
	rejected  string     // the last document rejected, with what it was checked against
	mu        sync.Mutex // guards st and src
	st        state
	src       *Source
	log       *slog.Logger
}

// localApply is a configuration an admin applies on the control socket.
type localApply struct {
	yaml []byte
	done chan error
}

var _ gateway.Fleet = (*Runner)(nil)

// LockFile is the file in the state directory whose lock the runner holds
// while it runs: a second agent on the same directory stops before it
// touches the first one's fleet state or buffer.
const LockFile = "agent.lock"

// lockState takes the state directory dir for this process.
func lockState(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the state directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock the state directory %s: %w", dir, err)
		}
		if pid, cmd := buffer.LockHolder(path); pid != 0 {
			return nil, fmt.Errorf("state directory %s in use by process %d (%s): %w", dir, pid, cmd, buffer.ErrLocked)
		}
		return nil, fmt.Errorf("state directory %s in use by another process: %w", dir, buffer.ErrLocked)
	}
	return func() { f.Close() }, nil
}

// Run runs agents until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	r.docs = make(chan []byte, 1)
	r.local = make(chan localApply)
	r.log = r.Deps.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.Deps.Now == nil {
		r.Deps.Now = time.Now
	}
	if r.Check <= 0 {
		r.Check = time.Second
	}
	loaded := false
	for {
		src, err := Resolve(r.Path)
		var cfg *config.Config
		if err == nil {
			cfg = src.Config
			err = gateway.CheckConfig(cfg)
		}
		if err == nil && !loaded {
			release, lerr := lockState(cfg.Gateway.State)
			if lerr != nil {
				return lerr
			}
			defer release()
			r.load(src)
			loaded = true
		}
		var a *gateway.Agent
		if err == nil {
			r.mu.Lock()
			r.src = src
			r.mu.Unlock()
			if src.Note != "" {
				r.log.Warn("configuration chosen", "err", errors.New(src.Note))
			}
			a, err = gateway.New(cfg, r.Deps, r)
		}
		if err != nil {
			if loaded && r.state().State == StateProbation {
				r.rollback(fmt.Sprintf("the new configuration does not start: %v", err))
				continue
			}
			return err
		}
		next, err := r.run(ctx, cfg, a)
		if !next {
			return err
		}
	}
}

// run runs one agent until ctx is done (false), or until its configuration
// is replaced or rolled back (true: the caller starts the next agent).
func (r *Runner) run(ctx context.Context, cfg *config.Config, a *gateway.Agent) (bool, error) {
	agentCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(agentCtx) }()
	halt := func() error { stop(); return <-done }
	started := r.Deps.Now()
	if r.pending != "" {
		r.audit(a, "config.rollback", cfg.Version, "ok: "+r.pending)
		r.pending = ""
	}
	// Probation is checked every r.Check until it ends; a proven or
	// committed configuration needs no ticker waking the agent.
	var checks <-chan time.Time
	if r.state().State == StateProbation {
		r.update(func(st *state) { st.Deadline = started.Add(cfg.Fleet.Probation) })
		tick := time.NewTicker(r.Check)
		defer tick.Stop()
		checks = tick.C
	}
	for {
		select {
		case <-ctx.Done():
			return false, halt()
		case err := <-done:
			if r.state().State == StateProbation {
				r.rollback(fmt.Sprintf("the new configuration stopped the agent: %v", err))
				return true, nil
			}
			return false, err
		case doc := <-r.docs:
			if r.apply(cfg, a, doc) {
				return true, halt()
			}
		case req := <-r.local:
			err := r.override(cfg, req.yaml)
			req.done <- err
			if err == nil {
				return true, halt()
			}
		case <-checks:
			st := r.state()
			if st.State != StateProbation {
				checks = nil
				continue
			}
			if why := proven(a.Status(), started); why == "" {
				r.commit(cfg, a)
				checks = nil
			} else if !r.Deps.Now().Before(st.Deadline) {
				err := halt()
				r.rollback(fmt.Sprintf("probation (%s): %s", cfg.Fleet.Probation, why))
				return true, err
			}
		}
	}
}

// proven returns "" when the agent reached the broker and polled every
// device successfully since start, or what is still missing.
func proven(st control.Status, start time.Time) string {
	if !st.Uplink.Connected {
		if st.Uplink.LastError != "" {
			return "broker not reached: " + st.Uplink.LastError
		}
		return "broker not reached"
	}
	for _, d := range st.Devices {
		if d.LastOK.Before(start) {
			if d.LastError != "" {
				return fmt.Sprintf("device %s not polled: %s", d.Name, d.LastError)
			}
			return "device " + d.Name + " not polled"
		}
	}
	return ""
}

// Offer hands a pushed document to the runner; a newer one replaces one not
// yet handled. It never blocks the uplink.
func (r *Runner) Offer(doc []byte) {
	for {
		select {
		case r.docs <- doc:
			return
		default:
		}
		select {
		case <-r.docs:
		default:
		}
	}
}

// apply verifies a pushed document and, when it is acceptable, writes it as
// the applied configuration and reports true: the caller swaps the agent.
// A refused document is reported and audited once; the same document
// offered again (a retained message at every reconnect) against the same
// running configuration and keys is passed over.
func (r *Runner) apply(cfg *config.Config, a *gateway.Agent, doc []byte) bool {
	st := r.state()
	h, err := confsig.Inspect(doc)
	if err == nil && h.Kind == confsig.DocConfig {
		if d := digest(h.Config); d == st.Hash || d == st.FailedHash {
			return false // the retained document of the running or the rolled-back configuration
		}
	}
	if err == nil && h.Kind == confsig.DocTrust && h.Version == st.Trust {
		return false // the rotation already applied
	}
	seen := digest(doc) + " " + st.Hash + " " + fmt.Sprint(st.Trust)
	if seen == r.rejected {
		return false
	}
	notYet := false
	var offered uint64 // the refused document's version, when its header reads
	if err == nil {
		offered = h.Version
	}
	reject := func(reason string) bool {
		if !notYet { // a document not valid yet may be offered again when it is
			r.rejected = seen
		}
		r.set(cfg, a, StateRejected, reason, "config.reject", offered)
		return false
	}
	if err != nil {
		return reject(err.Error())
	}
	if cfg.Fleet.Trust == "" {
		return reject("fleet.trust is not set: remote configuration is off on this gateway")
	}
	trust, file, err := r.trust(cfg)
	if err != nil {
		return reject(err.Error())
	}
	if h.Kind == confsig.DocTrust {
		r.rotate(cfg, a, doc, trust, file, h.Version)
		return false
	}
	d, err := VerifyConfig(confsig.Policy{GatewayID: cfg.Gateway.ID, Group: cfg.Fleet.Group, Running: cfg.Version, Now: r.Deps.Now()}, doc, trust)
	var re *confsig.RejectError
	notYet = errors.As(err, &re) && re.Reason == confsig.ReasonNotYetValid
	if err != nil {
		return reject(fmt.Sprintf("version %d: %v", h.Version, err))
	}
	if d.Version <= st.Failed {
		return reject(fmt.Sprintf("version %d: %s: version %d was rolled back (%s); sign the fix as version %d or higher",
			d.Version, confsig.ReasonNotNewer, st.Failed, st.Reason, st.Failed+1))
	}
	if err := r.checkState(cfg, d.Parsed); err != nil {
		return reject(fmt.Sprintf("version %d: %s: %v", d.Version, confsig.ReasonInvalidConfig, err))
	}
	r.set(cfg, a, StateValidated, "", "", 0)
	if err := writeFile(filepath.Join(r.dir, AppliedFile), d.Config); err != nil {
		return reject(fmt.Sprintf("version %d: write the applied configuration: %v", d.Version, err))
	}
	r.update(func(st *state) {
		st.Version, st.Hash, st.State, st.Reason, st.Time, st.Deadline, st.Offered = d.Version, hex.EncodeToString(d.Digest[:]), StateProbation, "", r.Deps.Now().UTC(), time.Time{}, 0
	})
	r.audit(a, "config.apply", d.Version, fmt.Sprintf("ok: on probation, signed by %s", d.KeyID))
	r.log.Info("configuration applied on probation", "err", fmt.Errorf("version %d", d.Version))
	return true
}

// checkState refuses a configuration that moves the state directory: the
// buffer and the fleet files live there.
func (r *Runner) checkState(cfg, next *config.Config) error {
	if filepath.Clean(next.Gateway.State) != filepath.Clean(cfg.Gateway.State) {
		return fmt.Errorf("gateway.state is %s, not %s: a pushed or applied configuration cannot move the state directory (the buffer is there)", next.Gateway.State, cfg.Gateway.State)
	}
	return nil
}

// trust returns the pinned ops keys and the file they come from: the set of
// the last rotation in the state directory, or fleet.trust before any.
func (r *Runner) trust(cfg *config.Config) (confsig.OpsTrust, string, error) {
	file := cfg.Fleet.Trust
	if rotated := filepath.Join(r.dir, TrustFile); r.state().Trust > 0 {
		if _, err := os.Stat(rotated); err == nil {
			file = rotated
		}
	}
	trust, err := confsig.LoadOpsPublic(file)
	return trust, file, err
}

// rotate applies a signed ops key rotation document: the pinned key set is
// written to TrustFile in the state directory, which replaces fleet.trust
// from then on. The running configuration is not touched.
func (r *Runner) rotate(cfg *config.Config, a *gateway.Agent, doc []byte, trust confsig.OpsTrust, from string, offered uint64) {
	u, err := confsig.Policy{GatewayID: cfg.Gateway.ID, Group: cfg.Fleet.Group, Running: r.state().Trust, Now: r.Deps.Now()}.VerifyTrust(doc, trust)
	if err == nil {
		err = writeFile(filepath.Join(r.dir, TrustFile), u.Trust.Marshal())
	}
	if err != nil {
		r.set(cfg, a, StateRejected, fmt.Sprintf("ops key rotation: %v", err), "config.reject", offered)
		return
	}
	r.update(func(st *state) { st.Trust = u.Version })
	reason := fmt.Sprintf("ops keys rotated to set version %d: %d added, %d retired (was %s, now %s)", u.Version, len(u.Added), len(u.Retired), from, filepath.Join(r.dir, TrustFile))
	r.set(cfg, a, StateCommitted, reason, "", 0)
	r.audit(a, "trust.rotate", u.Version, "ok: "+reason)
}

// ApplyLocal hands an admin's configuration to the running loop and returns
// its version once the loop runs it on probation, or why it was refused.
func (r *Runner) ApplyLocal(ctx context.Context, yaml []byte) (uint64, error) {
	cfg, err := config.Parse("config", yaml)
	if err != nil {
		return 0, err
	}
	req := localApply{yaml: yaml, done: make(chan error, 1)}
	select {
	case r.local <- req:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case err := <-req.done:
		return cfg.Version, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// override writes an admin's configuration, as given, as the applied
// configuration and puts it on probation, like a pushed one; fleet
// operations see its version and hash in the status. Its version must be
// newer than the running one, so that it also wins over the operator's file
// at the next start.
func (r *Runner) override(cfg *config.Config, yaml []byte) error {
	next, err := config.Parse("config", yaml)
	if err == nil {
		err = gateway.CheckConfig(next)
	}
	if err == nil && next.Gateway.ID != cfg.Gateway.ID {
		err = fmt.Errorf("gateway.id is %q, this gateway is %q", next.Gateway.ID, cfg.Gateway.ID)
	}
	if err == nil && next.Version <= cfg.Version {
		err = fmt.Errorf("version %d is not newer than the running version %d: set `version: %d` or higher", next.Version, cfg.Version, cfg.Version+1)
	}
	if err == nil {
		err = r.checkState(cfg, next)
	}
	if err == nil {
		err = writeFile(filepath.Join(r.dir, AppliedFile), yaml)
	}
	if err != nil {
		r.log.Warn("configuration not applied locally", "err", err)
		return fmt.Errorf("config apply: %w", err)
	}
	r.update(func(st *state) {
		st.Version, st.Hash, st.State, st.Reason, st.Time, st.Deadline, st.Offered = next.Version, digest(yaml), StateProbation, "applied locally by an admin", r.Deps.Now().UTC(), time.Time{}, 0
	})
	r.log.Info("configuration applied locally on probation", "err", fmt.Errorf("version %d", next.Version))
	return nil
}

// commit makes the running configuration the last-known-good.
func (r *Runner) commit(cfg *config.Config, a *gateway.Agent) {
	if err := writeFile(filepath.Join(r.dir, LastGoodFile), r.running().Data); err != nil {
		r.log.Error("last-known-good configuration not updated", "err", err)
	}
	r.set(cfg, a, StateCommitted, "", "config.commit", 0)
	r.log.Info("configuration committed", "err", fmt.Errorf("version %d", cfg.Version))
}

// rollback restores the last-known-good configuration: the applied file
// becomes it, or goes when the operator's file is the last-known-good (it is
// not newer than the operator's); the next agent reports the state when it
// connects.
func (r *Runner) rollback(reason string) {
	st := r.state()
	src := r.running()
	version, hash := uint64(0), ""
	err := func() error {
		lkg, err := os.ReadFile(filepath.Join(r.dir, LastGoodFile))
		if err != nil {
			return err
		}
		c, err := config.Parse(LastGoodFile, lkg)
		if err != nil {
			return err
		}
		version, hash = c.Version, digest(lkg)
		if c.Version <= src.OperatorVersion {
			err = os.Remove(src.Applied)
			if errors.Is(err, os.ErrNotExist) {
				err = nil
			}
			return err
		}
		return writeFile(src.Applied, lkg)
	}()
	if err != nil {
		r.log.Error("last-known-good configuration not restored", "err", err)
	}
	r.update(func(s *state) {
		s.Version, s.Hash, s.State, s.Reason, s.Time, s.Failed, s.FailedHash, s.Deadline, s.Offered = version, hash, StateRolledBack, clip(reason), r.Deps.Now().UTC(), st.Version, st.Hash, time.Time{}, 0
	})
	r.pending = reason
	r.log.Warn("configuration rolled back", "err", errors.New(reason))
}

// set records a state change about the running configuration cfg,
// publishes it, and audits it when action is set. A rejection is logged; one
// during probation leaves the configuration on probation, with the
// rejection in its reason. offered is the version of the document the
// change is about when it is not the running one (a rejected document's),
// or 0.
func (r *Runner) set(cfg *config.Config, a *gateway.Agent, stateName, reason, action string, offered uint64) {
	hash := digest(r.running().Data)
	r.update(func(st *state) {
		shown, why := stateName, reason
		if stateName == StateRejected && st.State == StateProbation {
			shown, why = StateProbation, "on probation; a document was rejected: "+reason
		}
		st.Version, st.Hash, st.State, st.Reason, st.Time, st.Offered = cfg.Version, hash, shown, clip(why), r.Deps.Now().UTC(), offered
	})
	a.ConfigStatusChanged()
	if stateName == StateRejected {
		r.log.Warn("configuration document rejected", "err", errors.New(reason))
	}
	if action != "" {
		result := "ok"
		if reason != "" {
			result = "rejected: " + reason
		}
		r.audit(a, action, cfg.Version, result)
	}
}

// audit records a fleet action in the agent's audit trail.
func (r *Runner) audit(a *gateway.Agent, action string, version uint64, result string) {
	err := a.Auditor().Record(control.Event{UID: os.Getuid(), GID: os.Getgid(), PID: os.Getpid(), Process: "edgegw", Role: "fleet",
		Action: action, Args: map[string]string{"version": fmt.Sprint(version)}, Result: result})
	if err != nil {
		r.log.Error("fleet action not audited", "err", err)
	}
}

// state returns a copy of the current state.
func (r *Runner) state() state {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// running returns the source of the running configuration.
func (r *Runner) running() *Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.src
}

// ConfigSource says which file the running configuration comes from and its
// fleet state.
func (r *Runner) ConfigSource() control.ConfigSource {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := control.ConfigSource{State: r.st.State, Reason: r.st.Reason}
	if r.src != nil {
		cs.File, cs.Origin, cs.Operator, cs.Note = r.src.Path, r.src.Origin, r.src.Operator, r.src.Note
	}
	return cs
}

// update changes the state and persists it.
func (r *Runner) update(f func(*state)) {
	r.mu.Lock()
	f(&r.st)
	st := r.st
	r.mu.Unlock()
	data, err := json.Marshal(st)
	if err == nil {
		err = writeAtomic(r.statePath, data)
	}
	if err != nil {
		r.log.Error("fleet state not persisted", "err", err)
	}
}

// ConfigStatus is the document published on config/status: the fleet state
// as JSON, nil before there is one.
func (r *Runner) ConfigStatus() []byte {
	st := r.state()
	if st.State == "" {
		return nil
	}
	b, err := json.Marshal(st.Status)
	if err != nil {
		return nil
	}
	return b
}

// clip shortens a reason to MaxReasonLen bytes, on a character boundary,
// marking the cut with "…"; the whole reason is in the log and the audit.
func clip(reason string) string {
	if len(reason) <= MaxReasonLen {
		return reason
	}
	cut := MaxReasonLen - len("…")
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "…"
}

// digest is the lowercase hex SHA-256 of configuration bytes, as
// confsig.Document.Digest.
func digest(data []byte) string {
	d := sha256.Sum256(data)
	return hex.EncodeToString(d[:])
}

// load reads the persisted state, or starts one for the configuration that
// runs. A reboot in the middle of an apply resumes probation of what is on
// disk; otherwise what runs is committed: recorded as such (an operator may
// have changed it) and kept as the last-known-good.
func (r *Runner) load(src *Source) {
	cfg := src.Config
	r.statePath = filepath.Join(cfg.Gateway.State, StateFile)
	r.dir = Dir(cfg) // the state directory exists: lockState made it
	r.mu.Lock()
	r.src = src
	r.mu.Unlock()
	hash := digest(src.Data)
	var old state
	data, err := os.ReadFile(r.statePath)
	if err != nil || json.Unmarshal(data, &old) != nil || old.Gateway != cfg.Gateway.ID {
		old = state{} // none yet, or another gateway's
	} else {
		switch old.State {
		case StateReceived, StateValidated, StateApplying, StateProbation:
			r.update(func(st *state) {
				*st = old
				st.State, st.Version, st.Hash, st.Deadline, st.Offered = StateProbation, cfg.Version, hash, time.Time{}, 0
			})
			return
		}
		if old.Hash == hash {
			r.update(func(st *state) { *st = old })
			r.keepLastGood(src.Data)
			return
		}
		r.log.Info("configuration changed outside fleet operations", "err", fmt.Errorf("%s (version %d) runs, the fleet state was version %d", src.Path, cfg.Version, old.Version))
	}
	r.update(func(st *state) {
		*st = state{Status: Status{Gateway: cfg.Gateway.ID, Version: cfg.Version, Hash: hash, State: StateCommitted, Time: r.Deps.Now().UTC()},
			Failed: old.Failed, FailedHash: old.FailedHash, Trust: old.Trust}
	})
	r.keepLastGood(src.Data)
}

// keepLastGood makes data, the configuration that runs committed, the
// last-known-good.
func (r *Runner) keepLastGood(data []byte) {
	path := filepath.Join(r.dir, LastGoodFile)
	if cur, err := os.ReadFile(path); err == nil && string(cur) == string(data) {
		return
	}
	if err := writeFile(path, data); err != nil {
		r.log.Error("last-known-good configuration not written", "err", err)
	}
}
