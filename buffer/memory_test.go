package buffer_test

import (
	"testing"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
)

func TestMemoryContract(t *testing.T) {
	buffertest.Run(t, func(t *testing.T, opts buffer.Options) buffer.Store {
		m := buffer.NewMemory(opts)
		t.Cleanup(func() { m.Close() })
		return m
	})
}
