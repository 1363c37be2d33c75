package kinesdtest

// One kinesd process serves the whole package: started by TestMain from the
// binary named by KINESD_BIN on a free loopback port with a temporary data
// directory, stopped with SIGTERM at the end. A clean exit (status 0) is part
// of the test.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Consumers (and streams) leave CREATING after this long, so the tests see
// the CREATING -> ACTIVE transition without waiting the server's default.
const activationDelayMs = 300

type kinesd struct {
	cmd      *exec.Cmd
	endpoint string
	workDir  string
	logPath  string
	exited   chan struct{}
	waitErr  error
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startKinesd starts a server; extraArgs go after the common options.
func startKinesd(extraArgs ...string) (started *kinesd, err error) {
	bin := os.Getenv("KINESD_BIN")
	if bin == "" {
		return nil, errors.New("KINESD_BIN is not set: point it at the kinesd binary")
	}
	if info, err := os.Stat(bin); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("KINESD_BIN=%q is not an executable file", bin)
	}
	workDir, err := os.MkdirTemp("", "kinesd-gotest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(workDir)
		}
	}()
	dataDir := filepath.Join(workDir, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		return nil, err
	}
	s := &kinesd{workDir: workDir, logPath: filepath.Join(workDir, "kinesd.log")}
	// The port may be taken between choosing it and kinesd binding it; then
	// kinesd exits at once and another port is tried.
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freeLoopbackPort()
		if err != nil {
			return nil, err
		}
		if err := s.launch(bin, dataDir, port, extraArgs); err != nil {
			return nil, err
		}
		ready, err := s.waitReady(60 * time.Second)
		if ready {
			return s, nil
		}
		if err != nil {
			s.kill()
			return nil, fmt.Errorf("%v\n%s", err, s.logTail())
		}
	}
	return nil, fmt.Errorf("kinesd exited during start-up\n%s", s.logTail())
}

func (s *kinesd) launch(bin, dataDir string, port int, extraArgs []string) error {
	log, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	args := []string{
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--data-dir", dataDir,
		"--log-level", "warn", "--create-stream-ms", strconv.Itoa(activationDelayMs),
	}
	args = append(args, extraArgs...)
	fmt.Fprintf(log, "=== %s %v\n", bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	// Its own process group, and killed with the test binary if that dies
	// (a timeout), so no server outlives the test holding its port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// waitReady is true once any HTTP answer comes back; false with no error if
// the process exited first.
func (s *kinesd) waitReady(limit time.Duration) (bool, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return false, nil
		default:
		}
		req, _ := http.NewRequest(http.MethodPost, s.endpoint+"/", bytes.NewReader([]byte("{}")))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return true, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false, fmt.Errorf("kinesd did not answer on %s within %v", s.endpoint, limit)
}

// stop sends SIGTERM and requires exit status 0 within 30 s.
func (s *kinesd) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal kinesd: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
		return fmt.Errorf("kinesd did not exit within 30 s of SIGTERM\n%s", s.logTail())
	}
	if s.waitErr != nil {
		return fmt.Errorf("kinesd exited badly: %v\n%s", s.waitErr, s.logTail())
	}
	return nil
}

func (s *kinesd) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

func (s *kinesd) logTail() string {
	text, _ := os.ReadFile(s.logPath)
	const max = 20000
	if len(text) > max {
		text = append([]byte("...\n"), text[len(text)-max:]...)
	}
	return fmt.Sprintf("--- kinesd log ---\n%s--- end of kinesd log ---", text)
}

func (s *kinesd) remove() {
	_ = os.RemoveAll(s.workDir)
}
