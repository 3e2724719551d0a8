package fleetweb

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipPool recycles the writers of compressed responses.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return w
}}

// acceptsGzip reports whether a request's Accept-Encoding header accepts
// gzip with a non-zero quality (RFC 9110, section 12.5.3), by name or by
// "*".
func acceptsGzip(r *http.Request) bool {
	star, gz := false, -1.0
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil {
					continue
				}
				q = f
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip", "x-gzip":
				gz = q
			case "*":
				star = q > 0
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star
}

// compressed serves h's answers gzip-compressed to clients that accept
// it. h sees the request without its Accept-Encoding header, so that it
// does not compress too.
func compressed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method == http.MethodHead || !acceptsGzip(r) {
			h.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.Header.Del("Accept-Encoding")
		gz := gzipPool.Get().(*gzip.Writer)
		defer gzipPool.Put(gz)
		gw := &gzipWriter{ResponseWriter: w, gz: gz}
		gz.Reset(w)
		h.ServeHTTP(gw, r2)
		if gw.wrote {
			gz.Close()
		}
	})
}

// gzipWriter compresses a response's body.
type gzipWriter struct {
	http.ResponseWriter
	gz    *gzip.Writer
	wrote bool // the header is written, with Content-Encoding: gzip
}

// WriteHeader implements http.ResponseWriter.
func (w *gzipWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Encoding", "gzip")
	w.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (w *gzipWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.gz.Write(b)
}
