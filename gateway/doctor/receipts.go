package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// receipts asks the running agent, on its control socket, what the
// backend's receipts say: a batch published and not receipted for longer
// than the receipt timeout was not stored, and the finding names the likely
// cause.
func (c *checker) receipts() {
	if len(c.cfg.Uplink.Receipts) == 0 {
		return // "receipt keys" warns
	}
	if c.cfg.Control.Socket == "off" {
		c.add("receipts", Pass, "control socket off: the agent's receipts cannot be read (see its health on <prefix>/<id>/health)", "")
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.o.Timeout)
	defer cancel()
	st, err := control.Dial(c.cfg.Control.Socket).Status(ctx)
	switch {
	case errors.Is(err, control.ErrNotRunning) && c.o.AgentPID == 0:
		c.add("receipts", Pass, "the agent is not running (nothing to check)", "")
		return
	case err != nil:
		c.add("receipts", Warn, "cannot read the agent's status: "+err.Error(), "run doctor as root or as a member of group "+c.cfg.Control.ViewerGroup)
		return
	}
	r := st.Uplink.Receipts
	if r == nil {
		c.add("receipts", Warn, "the running agent pins no receipt keys: it deletes batches on the broker's PUBACK", "restart it on this configuration: systemctl restart edgegw")
		return
	}
	detail := receiptSummary(r, c.o.Now())
	timeout := time.Duration(r.TimeoutSeconds) * time.Second
	age := time.Duration(r.OldestUnreceiptedAge) * time.Second
	if r.UnreceiptedBatches == 0 || age <= timeout {
		c.add("receipts", Pass, detail, "")
		return
	}
	cause, fix := c.receiptCause(st, r)
	what := fmt.Sprintf("%d batches (%d readings) published, none receipted in %s: the backend has not confirmed storing any of them",
		r.UnreceiptedBatches, r.UnreceiptedReadings, age)
	if r.Last != nil {
		what = fmt.Sprintf("%d batches (%d readings) published and not receipted for %s, more than the receipt timeout (%s)",
			r.UnreceiptedBatches, r.UnreceiptedReadings, age, timeout)
	}
	c.add("receipts", Warn, what+"; likely cause: "+cause+"; "+detail, fix)
}

// receiptSummary describes r in one line.
func receiptSummary(r *control.ReceiptStatus, now time.Time) string {
	var b strings.Builder
	if l := r.Last; l != nil {
		fmt.Fprintf(&b, "last receipt %s ago, signed %s by %s, through %d", now.Sub(l.Received).Round(time.Second), l.Time.UTC().Format(time.RFC3339), l.Signer, l.Through)
	} else {
		b.WriteString("no receipt accepted yet")
	}
	fmt.Fprintf(&b, "; %d batches (%d readings) unreceipted", r.UnreceiptedBatches, r.UnreceiptedReadings)
	if r.UnreceiptedBatches > 0 {
		fmt.Fprintf(&b, ", the oldest published %s ago", time.Duration(r.OldestUnreceiptedAge)*time.Second)
	}
	if len(r.Rejected) > 0 {
		var rs []string
		for _, reason := range slices.Sorted(maps.Keys(r.Rejected)) {
			rs = append(rs, fmt.Sprintf("%s %d", reason, r.Rejected[reason]))
		}
		fmt.Fprintf(&b, "; receipts rejected: %s", strings.Join(rs, ", "))
	}
	return b.String()
}

// receiptCause names the likely reason receipts do not come, and its fix.
func (c *checker) receiptCause(st control.Status, r *control.ReceiptStatus) (cause, fix string) {
	id := c.cfg.Gateway.ID
	rt := topic.Receipt(c.cfg.Uplink.TopicPrefix, id)
	switch {
	case c.certCN != "" && c.certCN != id:
		return fmt.Sprintf("the client certificate's CN %q is not the gateway id %q, so the broker's ACL drops every publish (and withholds %s)", c.certCN, id, rt),
			"issue the client certificate with CN = " + id
	case r.Rejected[uplink.RejectUntrusted] > 0:
		return fmt.Sprintf("receipts arrive signed by a key not pinned in uplink.receipts (%d rejected as untrusted)", r.Rejected[uplink.RejectUntrusted]),
			"pin the ingest's current public key (from the backend team) in uplink.receipts"
	case r.Rejected[uplink.RejectStale] > 0:
		return fmt.Sprintf("receipts go backwards (%d rejected as stale): was the backend's database replaced?", r.Rejected[uplink.RejectStale]),
			"ask the backend team whether the database lost data; restart the agent once it is sound"
	case r.Last != nil:
		return fmt.Sprintf("the backend stopped receipting after %s: edgegw ingest or its database is down or behind", r.Last.Received.UTC().Format(time.RFC3339)),
			"check that edgegw ingest runs and commits (its log and status); the batches stay buffered and are published again"
	case !st.Uplink.Connected:
		return "the broker is not reached: " + st.Uplink.LastError, "fix the connection (see the broker checks above)"
	}
	return fmt.Sprintf("the broker's ACL denies this certificate %s or the read of %s (MQTT 3.1.1 brokers acknowledge denied publishes and drop them), edgegw ingest is down or not subscribed, or it signs with a key not pinned here", topic.Data(c.cfg.Uplink.TopicPrefix, id, "#"), rt),
		"check the broker's ACL (docs/operations.md) and its log for denied publishes, that edgegw ingest runs, and that uplink.receipts holds the key it signs with"
}
