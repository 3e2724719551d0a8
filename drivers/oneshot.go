package drivers

import (
	"context"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
)

// ReadOnce builds dev with the factory of a registered driver kind,
// reads it once as ReadFirst does (reading again every interval while it has
// no sample yet, until ctx ends) and halts it. It returns the sensor's name
// (its String) and its readings. This is `edgegw sensor read`.
func ReadOnce(ctx context.Context, kind string, dev Device, deps Deps, every time.Duration) (string, []reading.Reading, error) {
	factory, err := Find(kind)
	if err != nil {
		return "", nil, err
	}
	s, err := factory(dev, deps)
	if err != nil {
		return "", nil, err
	}
	defer s.Halt()
	rs, err := ReadFirst(ctx, s, every)
	return s.String(), rs, err
}
