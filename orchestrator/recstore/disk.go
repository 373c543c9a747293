package recstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Disk keeps objects as files under a folder.
type Disk struct{ root string }

// NewDisk makes a store in the folder root (created when needed).
func NewDisk(root string) (*Disk, error) {
	if root == "" {
		return nil, errors.New("recstore: disk store needs a folder")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("recstore: disk folder %s: %w", root, err)
	}
	return &Disk{root: abs}, nil
}

// Root is the store's folder.
func (d *Disk) Root() string { return d.root }

// Location implements Store.
func (d *Disk) Location() string { return "disk:" + d.root }

// Remote implements Store.
func (d *Disk) Remote() bool { return false }

// Path is the file that holds key.
func (d *Disk) Path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put implements Store: the object is written to a temporary file next
// to its place, synced, then renamed over it.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) (err error) {
	name, err := d.Path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		return fmt.Errorf("recstore: put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".put-*")
	if err != nil {
		return fmt.Errorf("recstore: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("recstore: put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("recstore: put %s: read %d bytes, want %d: %w", key, n, size, io.ErrUnexpectedEOF)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("recstore: put %s: %w", key, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("recstore: put %s: %w", key, err)
	}
	if err = os.Chmod(tmp.Name(), 0o640); err != nil {
		return fmt.Errorf("recstore: put %s: %w", key, err)
	}
	if err = os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("recstore: put %s: %w", key, err)
	}
	return nil
}

// Open implements Store. Only regular files open: never a symbolic
// link, a folder or a device.
func (d *Disk) Open(_ context.Context, key string) (Object, error) {
	name, err := d.Path(key)
	if err != nil {
		return nil, err
	}
	f, info, err := OpenFile(name)
	if err != nil {
		return nil, err
	}
	return diskObject{f, Info{Size: info.Size(), ModTime: info.ModTime()}}, nil
}

// Stat implements Store.
func (d *Disk) Stat(_ context.Context, key string) (Info, error) {
	name, err := d.Path(key)
	if err != nil {
		return Info{}, err
	}
	info, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("recstore: %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("recstore: stat %s: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		return Info{}, fmt.Errorf("recstore: %s is not a regular file: %w", key, ErrNotFound)
	}
	return Info{Size: info.Size(), ModTime: info.ModTime()}, nil
}

// Delete implements Store.
func (d *Disk) Delete(_ context.Context, key string) error {
	name, err := d.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recstore: delete %s: %w", key, err)
	}
	return nil
}

// OpenFile opens name, which must be a regular file (not a symbolic
// link, a folder or a device); a missing file is ErrNotFound.
func OpenFile(name string) (*os.File, fs.FileInfo, error) {
	linfo, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("recstore: %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("recstore: stat %s: %w", name, err)
	}
	if !linfo.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("recstore: %s is not a regular file (%s)", name, linfo.Mode().Type())
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("recstore: open %s: %w", name, err)
	}
	info, err := f.Stat()
	if err != nil || !os.SameFile(linfo, info) {
		_ = f.Close()
		return nil, nil, fmt.Errorf("recstore: %s changed while being opened", name)
	}
	return f, info, nil
}

type diskObject struct {
	*os.File
	info Info
}

func (o diskObject) Info() Info { return o.info }

// ctxReader stops a copy once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
