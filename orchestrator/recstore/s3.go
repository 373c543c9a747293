package recstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config is the connection to an S3-compatible store.
type S3Config struct {
	// Endpoint is host[:port], or a URL whose scheme sets TLS
	// (https://...) or plain HTTP (http://...). Empty: AWS S3
	// (s3.amazonaws.com).
	Endpoint string
	Bucket   string
	// Prefix is prepended to every key ("recordings" keeps key k at
	// recordings/k).
	Prefix string
	// Region is the bucket's region (default us-east-1); given, the
	// client never asks the store for it.
	Region string
	// AccessKey and SecretKey sign requests; both empty sends anonymous
	// requests.
	AccessKey, SecretKey string
	// Insecure talks plain HTTP instead of TLS.
	Insecure bool
	// PathStyle addresses the bucket in the path (MinIO and most
	// self-hosted stores) rather than in the host name; left false, the
	// client chooses (virtual hosts for AWS, the path otherwise).
	PathStyle bool
	// Transport overrides the HTTP transport (tests, custom CAs).
	Transport http.RoundTripper
}

// S3 keeps objects in a bucket of an S3-compatible store.
type S3 struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string
	loc    string
}

// NewS3 connects to the store cfg names. It makes no request: a wrong
// endpoint or key shows at the first Put or Open.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("recstore: s3 store needs a bucket (s3://bucket/prefix)")
	}
	endpoint, secure := cfg.Endpoint, !cfg.Insecure
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("recstore: s3 endpoint %q: want host[:port] or scheme://host[:port]", cfg.Endpoint)
		}
		switch u.Scheme {
		case "http":
			secure = false
		case "https":
			secure = true
		default:
			return nil, fmt.Errorf("recstore: s3 endpoint %q: scheme must be http or https", cfg.Endpoint)
		}
		endpoint = u.Host
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := &minio.Options{Secure: secure, Region: region, Transport: cfg.Transport}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		opts.Creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		opts.Creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	c, err := minio.New(endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("recstore: s3 client: %w", err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	loc := "s3://" + cfg.Bucket
	if prefix != "" {
		loc += "/" + prefix
	}
	return &S3{client: c, core: minio.Core{Client: c}, bucket: cfg.Bucket, prefix: prefix, loc: loc}, nil
}

// Location implements Store.
func (s *S3) Location() string { return s.loc }

// Remote implements Store.
func (s *S3) Remote() bool { return true }

func (s *S3) object(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if s.prefix == "" {
		return key, nil
	}
	return path.Join(s.prefix, key), nil
}

// Put implements Store. An object of known size up to the client's part
// size (16 MiB) goes up in one PUT, a larger one (or one of unknown size)
// as a multipart upload; S3 makes either visible only once complete.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: contentType}
	if size < 0 {
		// Unknown sizes go up in parts buffered one at a time: keep them
		// at the minimum rather than the client's size-less default.
		opts.PartSize = 16 << 20
	}
	if _, err := s.client.PutObject(ctx, s.bucket, name, r, size, opts); err != nil {
		return fmt.Errorf("recstore: put %s to %s: %w", key, s.loc, err)
	}
	return nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	name, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s3Err("stat", key, err)
	}
	return Info{Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Open implements Store: one HEAD now, then one ranged GET from the
// current offset at the first Read after each Seek.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return nil, s3Err("open", key, err)
	}
	return &s3Object{s: s, ctx: ctx, name: name, etag: oi.ETag, info: Info{Size: oi.Size, ModTime: oi.LastModified}}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusNotFound && r.Code == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("recstore: delete %s from %s: %w", key, s.loc, err)
	}
	return nil
}

func s3Err(op, key string, err error) error {
	r := minio.ToErrorResponse(err)
	if r.StatusCode == http.StatusNotFound || r.Code == minio.NoSuchKey {
		return fmt.Errorf("recstore: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("recstore: %s %s: %w", op, key, err)
}

// s3Object reads an object through ranged GETs.
type s3Object struct {
	s    *S3
	ctx  context.Context
	name string
	etag string
	info Info
	off  int64
	body io.ReadCloser
}

func (o *s3Object) Info() Info { return o.info }

func (o *s3Object) Read(p []byte) (int, error) {
	if o.off >= o.info.Size {
		return 0, io.EOF
	}
	if o.body == nil {
		opts := minio.GetObjectOptions{}
		if o.off > 0 { // SetRange(0, 0) would ask for the first byte only
			if err := opts.SetRange(o.off, 0); err != nil {
				return 0, fmt.Errorf("recstore: read %s: %w", o.name, err)
			}
		}
		if o.etag != "" {
			// The object read is the one stat described, not a newer one.
			if err := opts.SetMatchETag(o.etag); err != nil {
				return 0, fmt.Errorf("recstore: read %s: %w", o.name, err)
			}
		}
		body, _, _, err := o.s.core.GetObject(o.ctx, o.s.bucket, o.name, opts)
		if err != nil {
			return 0, fmt.Errorf("recstore: read %s: %w", o.name, err)
		}
		o.body = body
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	if err == io.EOF && o.off < o.info.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (o *s3Object) Seek(offset int64, whence int) (int64, error) {
	var next int64
	switch whence {
	case io.SeekStart:
		next = offset
	case io.SeekCurrent:
		next = o.off + offset
	case io.SeekEnd:
		next = o.info.Size + offset
	default:
		return 0, fmt.Errorf("recstore: seek %s: whence %d", o.name, whence)
	}
	if next < 0 {
		return 0, fmt.Errorf("recstore: seek %s: negative offset", o.name)
	}
	if next != o.off {
		o.closeBody()
		o.off = next
	}
	return next, nil
}

func (o *s3Object) closeBody() {
	if o.body != nil {
		_ = o.body.Close()
		o.body = nil
	}
}

func (o *s3Object) Close() error {
	o.closeBody()
	return nil
}
