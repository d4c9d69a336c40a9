package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/docker-rke/docker-rke/dind"
)

// fileModeCache keeps what the privileged-container probe found, per
// engine ID, in the docker config directory: docker-rke/engines.json. A
// missing or unreadable file only means the probe runs again.
type fileModeCache struct {
	mu   sync.Mutex
	path string
}

func newFileModeCache(configDir string) *fileModeCache {
	return &fileModeCache{path: filepath.Join(configDir, "docker-rke", "engines.json")}
}

func (c *fileModeCache) read() map[string]dind.Mode {
	m := map[string]dind.Mode{}
	if data, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(data, &m)
	}
	return m
}

func (c *fileModeCache) Load(id string) (dind.Mode, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.read()[id]
	return m, ok && (m == dind.Privileged || m == dind.Capabilities)
}

func (c *fileModeCache) Store(id string, mode dind.Mode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.read()
	m[id] = mode
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return
	}
	tmp := c.path + ".tmp"
	if os.WriteFile(tmp, data, 0o600) == nil {
		_ = os.Rename(tmp, c.path)
	}
}

// modeCache is the mode cache of the docker config directory in use.
func (a *App) modeCache() *fileModeCache {
	return newFileModeCache(filepath.Dir(a.Docker.ConfigFile().Filename))
}
