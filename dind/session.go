package dind

import (
	"context"
	_ "embed"
	"fmt"
	"path"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// A load talks to each node through one exec that lasts the whole load
// (register.sh): it says at once which images the node holds, and later
// registers the stage the load sends, when the load names it on its
// input. The exec then ends with its input: when the load closes it, or
// when the load's connection goes (the tool was killed).

// registerScript is a node's part of a load (see the file).
//
//go:embed register.sh
var registerScript string

// sessionMark starts the lines by which the script ends each answer.
const sessionMark = "docker-rke: "

// sessionCommand is the exec of a node's part of a load.
func sessionCommand() []string {
	return []string{"sh", "-c", registerScript, "load", path.Join(stageRoot, stageParent), contentStore, LabelImageID, labelPinned}
}

// registerLine asks a session to register the stage at dir (under
// stageRoot).
func registerLine(dir string) string {
	return "register " + path.Join(stageRoot, dir)
}

// nodeSession is a load's exec in one node, its input and output
// attached.
type nodeSession struct {
	attached
}

// openSession starts a load's exec in a node container.
func (e *Engine) openSession(ctx context.Context, name string) (*nodeSession, error) {
	exec, err := e.api.ContainerExecCreate(ctx, name, container.ExecOptions{Cmd: sessionCommand(), AttachStdin: true, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return nil, fmt.Errorf("starting its part of the load: %w", err)
	}
	conn, err := e.api.ContainerExecAttach(ctx, exec.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("starting its part of the load: %w", err)
	}
	return &nodeSession{newAttached(conn)}, nil
}

// held returns the images Load put into the node before, by name, with
// the ID each was loaded as: the session's first answer.
func (s *nodeSession) held(ctx context.Context) (map[string]string, error) {
	lines, status, err := s.answer(ctx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("listing its images: %w", err)
	case status != "listed 0":
		return nil, fmt.Errorf("listing its images: ctr %s: %s", status, strings.Join(lines, "; "))
	}
	return parseImageList(strings.Join(lines, "\n")), nil
}

// register has the node make images of the stage at dir, which it holds
// whole.
func (s *nodeSession) register(ctx context.Context, dir string) error {
	if err := s.say(registerLine(dir)); err != nil {
		return fmt.Errorf("importing into containerd: %w", err)
	}
	lines, status, err := s.answer(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("importing into containerd: %w", err)
	case status != "registered 0":
		return fmt.Errorf("importing into containerd: %s: %s", status, strings.Join(lines, "; "))
	}
	return nil
}

// answer reads the session's lines up to the one that ends an answer, and
// returns them and what that line says ("listed 0"). A session that ends
// first, or a context that ends, is an error.
func (s *nodeSession) answer(ctx context.Context) ([]string, string, error) {
	lines, whole, err := s.hear(ctx, func(line string, _ int) bool { return strings.HasPrefix(line, sessionMark) })
	switch {
	case err != nil:
		return nil, "", err
	case !whole:
		return nil, "", fmt.Errorf("its part of the load ended early (%v): %s", s.lines.Err(), strings.Join(lines, "; "))
	}
	return lines[:len(lines)-1], strings.TrimPrefix(lines[len(lines)-1], sessionMark), nil
}

// close ends the session: its input ends, and so does the script, on its
// own (nothing waits for it).
func (s *nodeSession) close() {
	_ = s.attached.close()
}
