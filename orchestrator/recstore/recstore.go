// Package recstore keeps recordings' files in a blob store: a folder on
// this machine (Disk) or an S3-compatible object store such as MinIO or
// AWS S3 (S3).
//
// Keys are slash-separated relative names ("AC.../re....mp3"); a store
// maps them to its own layout (a path under its folder, an object under
// its prefix). Objects open for reading as seekable readers that know
// their size and modification time, which is what http.ServeContent
// needs to answer ranges and HEAD.
package recstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
)

// ErrNotFound is returned by Open and Stat for a key the store does not
// hold.
var ErrNotFound = errors.New("recstore: no such object")

// Info describes a stored object.
type Info struct {
	Size    int64
	ModTime time.Time
}

// Object is a stored object open for reading. Seek is cheap: a remote
// store fetches from the new offset on the next Read.
type Object interface {
	io.ReadSeekCloser
	Info() Info
}

// Store is a blob store for recordings.
type Store interface {
	// Put stores the size bytes of r under key, replacing any object
	// there; a reader sees either the old object or the whole new one.
	// size -1 means unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open opens key for reading (ErrNotFound if it is not there).
	// ctx bounds the object's reads too.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes key (ErrNotFound if it is not there).
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key; removing what is not there is no error.
	Delete(ctx context.Context, key string) error
	// Location names the store for logs and recording rows:
	// "disk:/abs/folder" or "s3://bucket/prefix".
	Location() string
	// Remote reports whether objects live off this machine.
	Remote() bool
}

// PutFile stores the file at name under key.
func PutFile(ctx context.Context, s Store, key, name, contentType string) (int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	if err := s.Put(ctx, key, f, info.Size(), contentType); err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// CheckKey rejects keys that are not clean relative slash-separated
// names: empty, absolute, with "." or ".." elements, backslashes or
// control characters.
func CheckKey(key string) error {
	if key == "" || len(key) > 512 || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") ||
		path.Clean(key) != key || strings.ContainsAny(key, "\\") {
		return fmt.Errorf("recstore: invalid key %q", key)
	}
	for _, el := range strings.Split(key, "/") {
		if el == "." || el == ".." {
			return fmt.Errorf("recstore: invalid key %q", key)
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("recstore: invalid key %q", key)
		}
	}
	return nil
}

// Config selects and configures a store.
type Config struct {
	// Spec is "disk" (the folder DiskRoot), "disk:/folder", or
	// "s3://bucket[/prefix]".
	Spec string
	// DiskRoot is the folder of a plain "disk" spec.
	DiskRoot string
	// S3 is the connection of an s3:// spec (Bucket and Prefix come
	// from the spec).
	S3 S3Config
}

// Open makes the store cfg names.
func Open(cfg Config) (Store, error) {
	spec := strings.TrimSpace(cfg.Spec)
	switch {
	case spec == "" || spec == "disk":
		return NewDisk(cfg.DiskRoot)
	case strings.HasPrefix(spec, "disk:"):
		return NewDisk(strings.TrimPrefix(spec, "disk:"))
	case strings.HasPrefix(spec, "s3://"):
		rest := strings.TrimPrefix(spec, "s3://")
		bucket, prefix, _ := strings.Cut(rest, "/")
		s3 := cfg.S3
		s3.Bucket, s3.Prefix = bucket, strings.Trim(prefix, "/")
		return NewS3(s3)
	}
	return nil, fmt.Errorf("recstore: store %q: want disk, disk:/folder or s3://bucket/prefix", spec)
}
