package confsig

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/edgegw/edgegw/crypto/keys"
)

// Target kinds.
const (
	// KindGateway targets one gateway by id.
	KindGateway = "gateway"
	// KindList targets a list of gateways by id.
	KindList = "list"
	// KindGroup targets every gateway that belongs to a fleet group.
	KindGroup = "group"
)

// MaxTargetIDs is the largest number of gateway ids a list target holds.
const MaxTargetIDs = 10000

// Target selects the gateways a document is for.
type Target struct {
	// Kind is KindGateway, KindList or KindGroup.
	Kind string
	// IDs are the gateway ids of a gateway (exactly one) or list target
	// (1..MaxTargetIDs, ascending and unique once signed). Each matches
	// [a-z0-9][a-z0-9-]{0,62}.
	IDs []string
	// Group is the group name of a group target, [a-z0-9][a-z0-9-]{0,62}.
	Group string
}

// ForGateway returns a target of the one gateway id.
func ForGateway(id string) Target { return Target{Kind: KindGateway, IDs: []string{id}} }

// ForGateways returns a list target of ids, sorted and without duplicates.
func ForGateways(ids ...string) Target {
	return Target{Kind: KindList, IDs: ids}.normalized()
}

// ForGroup returns a target of every gateway in group.
func ForGroup(group string) Target { return Target{Kind: KindGroup, Group: group} }

// Includes reports whether t selects the gateway with id gatewayID that
// belongs to group (empty when the gateway is in no group).
func (t Target) Includes(gatewayID, group string) bool {
	switch t.Kind {
	case KindGateway, KindList:
		return slices.Contains(t.IDs, gatewayID)
	case KindGroup:
		return group != "" && t.Group == group
	}
	return false
}

// String describes t, for example "gateway gw-001", "list of 3 gateways
// (gw-001, gw-002, gw-003)" or "group north".
func (t Target) String() string {
	switch t.Kind {
	case KindGateway:
		if len(t.IDs) == 1 {
			return "gateway " + t.IDs[0]
		}
	case KindList:
		shown := t.IDs
		more := ""
		if len(shown) > 5 {
			shown, more = shown[:5], fmt.Sprintf(", … %d more", len(t.IDs)-5)
		}
		return fmt.Sprintf("list of %d gateways (%s%s)", len(t.IDs), strings.Join(shown, ", "), more)
	case KindGroup:
		return "group " + t.Group
	}
	return fmt.Sprintf("target kind %q", t.Kind)
}

// normalized returns a copy of t with a list's ids sorted and unique.
func (t Target) normalized() Target {
	t.IDs = slices.Clone(t.IDs)
	if t.Kind == KindList {
		slices.Sort(t.IDs)
		t.IDs = slices.Compact(t.IDs)
	}
	return t
}

// check returns an error if t is not a valid, normalized target.
func (t Target) check() error {
	switch t.Kind {
	case KindGateway:
		if len(t.IDs) != 1 || t.Group != "" {
			return errors.New("target: a gateway target has exactly one id and no group")
		}
	case KindList:
		if len(t.IDs) == 0 || len(t.IDs) > MaxTargetIDs || t.Group != "" {
			return fmt.Errorf("target: a list target has 1 to %d ids and no group", MaxTargetIDs)
		}
		for i := 1; i < len(t.IDs); i++ {
			if t.IDs[i-1] >= t.IDs[i] {
				return errors.New("target: list ids are not ascending and unique")
			}
		}
	case KindGroup:
		if len(t.IDs) != 0 {
			return errors.New("target: a group target has no ids")
		}
		if keys.ValidateGatewayID(t.Group) != nil { // a group name has a gateway id's form
			return fmt.Errorf("target: group %q does not match %s", t.Group, keys.GatewayIDForm)
		}
		return nil
	default:
		return fmt.Errorf("target: unknown kind %q (want gateway, list or group)", t.Kind)
	}
	for _, id := range t.IDs {
		if err := keys.ValidateGatewayID(id); err != nil {
			return fmt.Errorf("target: %w", err)
		}
	}
	return nil
}
