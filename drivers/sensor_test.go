package drivers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
)

// warming is a sensor with no data for its first reads.
type warming struct{ reads, empty int }

func (w *warming) String() string { return "warming" }
func (w *warming) Halt() error    { return nil }
func (w *warming) Read(ctx context.Context) ([]reading.Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("warming: %w", err)
	}
	if w.reads++; w.reads <= w.empty {
		return nil, fmt.Errorf("warming: first sample due later: %w", drivers.ErrNoData)
	}
	return []reading.Reading{{Channel: "x", Value: 1}}, nil
}

func TestReadFirst(t *testing.T) {
	w := &warming{empty: 3}
	rs, err := drivers.ReadFirst(context.Background(), w, time.Millisecond)
	if err != nil || len(rs) != 1 || w.reads != 4 {
		t.Errorf("ReadFirst = %v, %v after %d reads; want the fourth read's sample", rs, err, w.reads)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = drivers.ReadFirst(ctx, &warming{empty: 1 << 30}, time.Millisecond)
	if !errors.Is(err, drivers.ErrNoData) || err.Error() != "warming: first sample due later: no data" {
		t.Errorf("ReadFirst past its deadline = %v, want the sensor's last reason", err)
	}
}
