package buffer_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
	"github.com/edgegw/edgegw/internal/must"
)

const crashEnv = "EDGEGW_BUFFER_CRASH_PATH"

// TestHelperWriter is the child process of TestBoltCrash: it writes batches
// with a 50ms window and reports on stdout what is committed, until killed.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestBoltCrash")
	}
	fail := func(err error) {
		fmt.Printf("crash: error %v\n", err)
		os.Exit(2)
	}
	b, err := buffer.OpenBolt(path, buffer.Options{Durability: 50 * time.Millisecond})
	if err != nil {
		fail(err)
	}
	pid := os.Getpid()
	un, err := b.Unsealed()
	if err != nil {
		fail(err)
	}
	for _, u := range un { // close what the previous crash left open
		if err := b.Seal(u.Seq, buffertest.Trailer(u.Seq)); err != nil {
			fail(err)
		}
		if err := b.Sync(); err != nil {
			fail(err)
		}
		fmt.Printf("crash: sealed %d\n", u.Seq)
	}
	for i := 0; ; i++ {
		seq, err := b.Begin("telemetry", time.Now(), func(seq uint64) ([]byte, error) {
			return fmt.Appendf(nil, "hdr-%d-%d", seq, pid), nil
		})
		if err != nil {
			fail(err)
		}
		n := 1 + i%4
		for j := range n {
			if err := b.Append(seq, buffertest.Chunk(seq, j, 150), 3); err != nil {
				fail(err)
			}
		}
		if err := b.Sync(); err != nil {
			fail(err)
		}
		fmt.Printf("crash: synced %d %d %d\n", seq, n, pid)
		// One more chunk within the window: it may or may not survive.
		if err := b.Append(seq, buffertest.Chunk(seq, n, 150), 3); err != nil {
			fail(err)
		}
		if i%3 != 2 {
			if err := b.Seal(seq, buffertest.Trailer(seq)); err != nil {
				fail(err)
			}
			if err := b.Sync(); err != nil {
				fail(err)
			}
			fmt.Printf("crash: sealed %d\n", seq)
		}
		if i%5 == 4 {
			bs, err := b.Next(0, 2)
			if err != nil {
				fail(err)
			}
			for _, x := range bs {
				fmt.Printf("crash: acking %d\n", x.Seq)
			}
			if err := b.Ack(buffertest.Seqs(bs)...); err != nil {
				fail(err)
			}
			if err := b.Sync(); err != nil {
				fail(err)
			}
			for _, x := range bs {
				fmt.Printf("crash: acked %d\n", x.Seq)
			}
		}
	}
}

// crashLog is what the parent learned from the children's output.
type crashLog struct {
	synced  map[uint64]int // seq → chunks reported synced
	owner   map[uint64]int // seq → pid of the child that began it
	sealed  map[uint64]bool
	acking  map[uint64]bool // maybe acknowledged
	acked   map[uint64]bool // acknowledged and committed
	maxSeen uint64
}

func TestBoltCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	path := filepath.Join(t.TempDir(), "buffer.db")
	log := crashLog{synced: map[uint64]int{}, owner: map[uint64]int{}, sealed: map[uint64]bool{},
		acking: map[uint64]bool{}, acked: map[uint64]bool{}}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for round := range 6 {
		killAfter := 5 + r.IntN(80)
		runChild(t, path, killAfter, &log)
		checkAfterCrash(t, path, &log, round)
	}
}

// startChild starts this test binary as a child process that runs only
// the test named test, with env added to its environment. It returns the
// child, a scanner of its standard output and its standard error.
func startChild(t *testing.T, test string, env ...string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	must.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must.NoError(t, cmd.Start())
	return cmd, bufio.NewScanner(out), &stderr
}

// runChild starts the writer and kills it with SIGKILL after it printed
// killAfter lines.
func runChild(t *testing.T, path string, killAfter int, log *crashLog) {
	t.Helper()
	cmd, sc, stderr := startChild(t, "TestHelperWriter", crashEnv+"="+path)
	lines := 0
	for lines < killAfter && sc.Scan() {
		record(t, sc.Text(), log)
		lines++
	}
	must.NoError(t, cmd.Process.Kill())
	// What the child printed before it died happened too (an ack it
	// committed, say): read it all.
	for sc.Scan() {
		record(t, sc.Text(), log)
	}
	_ = cmd.Wait()
	if lines < killAfter {
		t.Fatalf("child stopped after %d lines; stderr: %s", lines, stderr.String())
	}
}

// record notes one line of the child's output in log.
func record(t *testing.T, line string, log *crashLog) {
	t.Helper()
	var seq uint64
	var n, pid int
	switch {
	case scan(line, "crash: synced %d %d %d", &seq, &n, &pid):
		if p, ok := log.owner[seq]; ok && p != pid {
			t.Fatalf("seq %d reused: begun by child %d, then by child %d", seq, p, pid)
		}
		log.owner[seq], log.synced[seq] = pid, n
		log.maxSeen = max(log.maxSeen, seq)
	case scan(line, "crash: sealed %d", &seq):
		log.sealed[seq] = true
	case scan(line, "crash: acking %d", &seq):
		log.acking[seq] = true
	case scan(line, "crash: acked %d", &seq):
		log.acked[seq] = true
	default:
		t.Fatalf("child: %s", line)
	}
}

func scan(line, format string, args ...any) bool {
	n, err := fmt.Sscanf(line, format, args...)
	return err == nil && n == len(args)
}

// checkAfterCrash opens the file as the restarted agent would and checks
// that nothing reported committed was lost and no number was skipped.
func checkAfterCrash(t *testing.T, path string, log *crashLog, round int) {
	t.Helper()
	b, err := buffer.OpenBolt(path, buffer.Options{})
	if err != nil {
		t.Fatalf("round %d: OpenBolt: %v", round, err)
	}
	defer func() {
		must.NoError(t, b.Close())
		checkFile(t, path)
	}()
	if r := b.Recovered(); r != "" {
		t.Fatalf("round %d: file needed recovery after kill -9: %s", round, r)
	}
	closed, err := b.Next(0, 1<<30)
	must.NoError(t, err)
	open, err := b.Unsealed()
	must.NoError(t, err)
	stored := map[uint64]buffer.Batch{}
	for _, x := range append(closed, open...) {
		stored[x.Seq] = x
	}
	next := b.Stats().NextSeq
	if next <= log.maxSeen {
		t.Fatalf("round %d: NextSeq %d, but child reported seq %d committed", round, next, log.maxSeen)
	}
	for seq := uint64(1); seq < next; seq++ {
		x, ok := stored[seq]
		if !ok {
			if !log.acking[seq] {
				t.Fatalf("round %d: seq %d neither stored nor acknowledged (NextSeq %d)", round, seq, next)
			}
			continue
		}
		if log.acked[seq] {
			t.Fatalf("round %d: seq %d acknowledged and committed, but still stored", round, seq)
		}
		if pid, ok := log.owner[seq]; ok && string(x.Header) != fmt.Sprintf("hdr-%d-%d", seq, pid) {
			t.Fatalf("round %d: seq %d header %q, want child %d's", round, seq, x.Header, pid)
		}
		if len(x.Chunks) < log.synced[seq] {
			t.Fatalf("round %d: seq %d has %d chunks, %d were synced", round, seq, len(x.Chunks), log.synced[seq])
		}
		for i, c := range x.Chunks {
			if !bytes.Equal(c, buffertest.Chunk(seq, i, 150)) {
				t.Fatalf("round %d: seq %d chunk %d damaged", round, seq, i)
			}
		}
		if log.sealed[seq] && x.Trailer == nil {
			t.Fatalf("round %d: seq %d was sealed but is open", round, seq)
		}
	}
	for seq := range log.synced {
		if _, ok := stored[seq]; !ok && !log.acking[seq] {
			t.Fatalf("round %d: synced seq %d lost", round, seq)
		}
	}
	t.Logf("round %d: NextSeq %d, %d closed and %d open stored", round, next, len(closed), len(open))
}
