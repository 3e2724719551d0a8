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

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/control"
)

// StateFile is the name of the persisted fleet state in the state directory.
const StateFile = "fleet.json"

// state is the persisted configuration state: it survives a reboot in the
// middle of an apply, so the gateway resumes probation or rolls back.
type state struct {
	Status
	Failed   uint64    `json:"failed,omitempty"`  // the last version rolled back: not applied again
	Trust    uint64    `json:"trust,omitempty"`   // version of the pinned ops key set, from rotation documents
	Deadline time.Time `json:"deadline,omitzero"` // end of probation
}

// Runner runs the gateway under fleet control. It applies signed
// configurations pushed by operations: verify, write atomically (keeping the
// last-known-good copy), swap the agent (drivers and uplink) without
// touching the buffer, and hold the new configuration on probation; if it
// does not reach the broker and poll every device in time, the runner
// restores the last-known-good configuration by itself and reports why.
type Runner struct {
	Path string       // the configuration file; replaced atomically on apply
	Deps gateway.Deps // for each agent; OnConfig and ConfigStatus are the runner's
	// Check is the interval of probation checks; 1s when zero.
	Check time.Duration

	docs      chan []byte
	local     chan localApply
	pending   string // a rollback reason to audit once the next agent runs
	statePath string
	mu        sync.Mutex // guards st
	st        state
	log       *slog.Logger
}

// localApply is a configuration an admin applies on the control socket.
type localApply struct {
	yaml []byte
	done chan error
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
	deps := r.Deps
	deps.OnConfig = r.offer
	deps.ConfigStatus = r.statusJSON
	deps.ApplyLocal = r.applyLocal
	loaded := false
	for {
		cfg, err := config.Load(r.Path)
		if err == nil {
			err = gateway.CheckConfig(cfg)
		}
		if err == nil && !loaded {
			r.load(cfg)
			loaded = true
		}
		var a *gateway.Agent
		if err == nil {
			a, err = gateway.New(cfg, deps)
		}
		if err != nil {
			if loaded && r.state().State == StateProbation {
				r.rollback(cfg, fmt.Sprintf("the new configuration does not start: %v", err))
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
	if r.state().State == StateProbation {
		r.update(func(st *state) { st.Deadline = started.Add(cfg.Fleet.Probation) })
	}
	tick := time.NewTicker(r.Check)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, halt()
		case err := <-done:
			if r.state().State == StateProbation {
				r.rollback(cfg, fmt.Sprintf("the new configuration stopped the agent: %v", err))
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
		case <-tick.C:
			st := r.state()
			if st.State != StateProbation {
				continue
			}
			if why := proven(a.Status(), started); why == "" {
				r.commit(cfg, a)
			} else if !r.Deps.Now().Before(st.Deadline) {
				err := halt()
				r.rollback(cfg, fmt.Sprintf("probation (%s): %s", cfg.Fleet.Probation, why))
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

// offer hands a pushed document to the runner; a newer one replaces one not
// yet handled. It never blocks the uplink.
func (r *Runner) offer(doc []byte) {
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
// the configuration and reports true: the caller swaps the agent.
func (r *Runner) apply(cfg *config.Config, a *gateway.Agent, doc []byte) bool {
	h, err := confsig.Inspect(doc)
	if err == nil && h.Kind == confsig.DocConfig && (h.Version == cfg.Version || h.Version <= r.state().Failed) {
		return false // the retained document of the running or a rolled-back version
	}
	if err == nil && h.Kind == confsig.DocTrust && h.Version <= r.state().Trust {
		return false // a rotation already applied
	}
	reject := func(reason string) bool {
		r.set(cfg, a, StateRejected, reason, "config.reject")
		return false
	}
	if err != nil {
		return reject(err.Error())
	}
	if cfg.Fleet.Trust == "" {
		return reject("fleet.trust is not set: remote configuration is off on this gateway")
	}
	trust, err := confsig.LoadOpsPublic(cfg.Fleet.Trust)
	if err != nil {
		return reject(err.Error())
	}
	if h.Kind == confsig.DocTrust {
		r.rotate(cfg, a, doc, trust)
		return false
	}
	d, err := VerifyConfig(confsig.Policy{GatewayID: cfg.Gateway.ID, Group: cfg.Fleet.Group, Running: cfg.Version, Now: r.Deps.Now()}, doc, trust)
	if err != nil {
		return reject(fmt.Sprintf("version %d: %v", h.Version, err))
	}
	r.set(cfg, a, StateValidated, "", "")
	if err := copyFile(r.Path, r.Path+".lkg"); err != nil {
		return reject("keep the last-known-good configuration: " + err.Error())
	}
	if err := writeAtomic(r.Path, d.Config); err != nil {
		return reject("write the configuration: " + err.Error())
	}
	r.update(func(st *state) {
		st.Version, st.Hash, st.State, st.Reason, st.Time, st.Deadline = d.Version, hex.EncodeToString(d.Digest[:]), StateProbation, "", r.Deps.Now().UTC(), time.Time{}
	})
	r.audit(a, "config.apply", d.Version, fmt.Sprintf("ok: on probation, signed by %s", d.KeyID))
	r.log.Info("configuration applied on probation", "err", fmt.Errorf("version %d", d.Version))
	return true
}

// rotate applies a signed ops key rotation document: the pinned key set in
// fleet.trust is replaced atomically. The running configuration is not
// touched.
func (r *Runner) rotate(cfg *config.Config, a *gateway.Agent, doc []byte, trust confsig.OpsTrust) {
	u, err := confsig.Policy{GatewayID: cfg.Gateway.ID, Group: cfg.Fleet.Group, Running: r.state().Trust, Now: r.Deps.Now()}.VerifyTrust(doc, trust)
	if err == nil {
		err = writeAtomic(cfg.Fleet.Trust, u.Trust.Marshal())
	}
	if err != nil {
		r.set(cfg, a, StateRejected, fmt.Sprintf("ops key rotation: %v", err), "config.reject")
		return
	}
	r.update(func(st *state) { st.Trust = u.Version })
	reason := fmt.Sprintf("ops keys rotated to set version %d: %d added, %d retired", u.Version, len(u.Added), len(u.Retired))
	r.set(cfg, a, StateCommitted, reason, "")
	r.audit(a, "trust.rotate", u.Version, "ok: "+reason)
}

// applyLocal hands an admin's configuration to the running loop.
func (r *Runner) applyLocal(ctx context.Context, yaml []byte) (uint64, error) {
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

// override writes an admin's configuration and puts it on probation, like
// a pushed one; fleet operations see its version and hash in the status.
func (r *Runner) override(cfg *config.Config, yaml []byte) error {
	next, err := config.Parse("config", yaml)
	if err == nil {
		err = gateway.CheckConfig(next)
	}
	if err != nil {
		return err
	}
	if next.Gateway.ID != cfg.Gateway.ID {
		return fmt.Errorf("config apply: gateway.id is %q, this gateway is %q", next.Gateway.ID, cfg.Gateway.ID)
	}
	canon, err := next.Canonical()
	if err == nil {
		err = copyFile(r.Path, r.Path+".lkg")
	}
	if err == nil {
		err = writeAtomic(r.Path, canon)
	}
	if err != nil {
		return fmt.Errorf("config apply: %w", err)
	}
	r.update(func(st *state) {
		st.Version, st.Hash, st.State, st.Reason, st.Time, st.Deadline = next.Version, digest(canon), StateProbation, "applied locally by an admin", r.Deps.Now().UTC(), time.Time{}
	})
	r.log.Info("configuration applied locally on probation", "err", fmt.Errorf("version %d", next.Version))
	return nil
}

// commit makes the running configuration the last-known-good.
func (r *Runner) commit(cfg *config.Config, a *gateway.Agent) {
	if err := copyFile(r.Path, r.Path+".lkg"); err != nil {
		r.log.Error("last-known-good configuration not updated", "err", err)
	}
	r.set(cfg, a, StateCommitted, "", "config.commit")
	r.log.Info("configuration committed", "err", fmt.Errorf("version %d", cfg.Version))
}

// rollback restores the last-known-good configuration; the next agent
// reports the state when it connects.
func (r *Runner) rollback(cfg *config.Config, reason string) {
	failed := r.state().Version
	if err := copyFile(r.Path+".lkg", r.Path); err != nil {
		r.log.Error("last-known-good configuration not restored", "err", err)
	}
	version, hash := uint64(0), ""
	if lkg, err := config.Load(r.Path); err == nil {
		version = lkg.Version
		if canon, err := lkg.Canonical(); err == nil {
			hash = digest(canon)
		}
	}
	r.update(func(st *state) {
		st.Version, st.Hash, st.State, st.Reason, st.Time, st.Failed, st.Deadline = version, hash, StateRolledBack, reason, r.Deps.Now().UTC(), failed, time.Time{}
	})
	r.pending = reason
	r.log.Warn("configuration rolled back", "err", errors.New(reason))
}

// set records a state change, publishes it, and audits it when action is
// set.
func (r *Runner) set(cfg *config.Config, a *gateway.Agent, stateName, reason, action string) {
	r.update(func(st *state) {
		st.Version, st.State, st.Reason, st.Time = cfg.Version, stateName, reason, r.Deps.Now().UTC()
		if canon, err := cfg.Canonical(); err == nil {
			st.Hash = digest(canon)
		}
	})
	a.ConfigStatusChanged()
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

// statusJSON is the document published on config/status.
func (r *Runner) statusJSON() []byte {
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

// digest is the lowercase hex SHA-256 of canonical configuration bytes, as
// confsig.Document.Digest.
func digest(canon []byte) string {
	d := sha256.Sum256(canon)
	return hex.EncodeToString(d[:])
}

// load reads the persisted state, or starts one for the running
// configuration, and makes sure a last-known-good copy exists. A reboot in
// the middle of an apply resumes probation of what is on disk.
func (r *Runner) load(cfg *config.Config) {
	r.statePath = filepath.Join(cfg.Gateway.State, StateFile)
	if err := os.MkdirAll(cfg.Gateway.State, 0o700); err != nil {
		r.log.Error("state directory not created", "err", err)
	}
	if _, err := os.Stat(r.Path + ".lkg"); errors.Is(err, os.ErrNotExist) {
		if err := copyFile(r.Path, r.Path+".lkg"); err != nil {
			r.log.Error("last-known-good configuration not written", "err", err)
		}
	}
	data, err := os.ReadFile(r.statePath)
	if err == nil && json.Unmarshal(data, &r.st) == nil && r.st.Gateway == cfg.Gateway.ID {
		switch r.st.State {
		case StateReceived, StateValidated, StateApplying:
			r.update(func(st *state) { st.State, st.Version, st.Deadline = StateProbation, cfg.Version, time.Time{} })
		}
		return
	}
	hash := ""
	if canon, err := cfg.Canonical(); err == nil {
		hash = digest(canon)
	}
	r.update(func(st *state) {
		*st = state{Status: Status{Gateway: cfg.Gateway.ID, Version: cfg.Version, Hash: hash, State: StateCommitted, Time: r.Deps.Now().UTC()}}
	})
}
