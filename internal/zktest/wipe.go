package zktest

import (
	"fmt"
	"os"
	"path/filepath"
)

// Wipe empties the data directory of a stopped server, as an operator rebuilding a
// cluster from scratch does: its next Start begins a new history at zxid 0. An ensemble
// member keeps its myid. Wiping a running server is an error.
func (s *Server) Wipe() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if p := s.current(); p != nil && !p.exited() {
		return fmt.Errorf("zktest: server %d: wipe while running", s.ID)
	}
	myid, err := os.ReadFile(filepath.Join(s.dataDir(), "myid"))
	hasID := err == nil
	if err := os.RemoveAll(s.dataDir()); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	if err := os.MkdirAll(s.dataDir(), 0o755); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	if hasID {
		if err := os.WriteFile(filepath.Join(s.dataDir(), "myid"), myid, 0o644); err != nil {
			return fmt.Errorf("zktest: %w", err)
		}
	}
	return nil
}

// Backup copies the data directory of a stopped server to dir, which must not exist, as an
// operator's backup does.
func (s *Server) Backup(dir string) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if p := s.current(); p != nil && !p.exited() {
		return fmt.Errorf("zktest: server %d: backup while running", s.ID)
	}
	if err := os.CopyFS(dir, os.DirFS(s.dataDir())); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}

// Restore replaces the data directory of a stopped server with a copy of dir, a Backup: its
// next Start goes on from the history the backup holds.
func (s *Server) Restore(dir string) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if p := s.current(); p != nil && !p.exited() {
		return fmt.Errorf("zktest: server %d: restore while running", s.ID)
	}
	if err := os.RemoveAll(s.dataDir()); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	if err := os.CopyFS(s.dataDir(), os.DirFS(dir)); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}
