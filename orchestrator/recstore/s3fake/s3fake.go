// Package s3fake is a small in-memory S3-compatible server for tests:
// enough of the API for minio-go to put (in one request or multipart,
// plain or aws-chunked bodies), stat, read (with ranges) and delete
// objects. It ignores signatures and keeps everything in memory.
package s3fake

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Object is a stored object.
type Object struct {
	Data        []byte
	ContentType string
	ETag        string
	Modified    time.Time
}

// Server is a fake S3 endpoint serving any bucket, path-style.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	objects map[string]Object // "bucket/key"
	uploads map[string]map[int][]byte
	nextID  int
	// Fail, if set, is asked about every request; a status other than 0
	// answers it with that error (500: the client retries; 403: it does
	// not).
	Fail func(r *http.Request) int
	// requests counts requests by method.
	requests map[string]int
	puts     chan string
}

// New starts a server; Close stops it.
func New() *Server {
	s := &Server{objects: map[string]Object{}, uploads: map[string]map[int][]byte{}, requests: map[string]int{},
		puts: make(chan string, 1024)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Endpoint is the server's host:port (plain HTTP).
func (s *Server) Endpoint() string { return strings.TrimPrefix(s.URL, "http://") }

// Get returns the object at bucket/key.
func (s *Server) Get(bucket, key string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[bucket+"/"+key]
	return o, ok
}

// Keys lists the objects' "bucket/key" names, sorted.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.objects))
	for k := range s.objects {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Requests is how many requests of method the server answered.
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

// Puts delivers the "bucket/key" of each completed upload.
func (s *Server) Puts() <-chan string { return s.puts }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.Method]++
	fail := s.Fail
	s.mu.Unlock()
	if fail != nil {
		if status := fail(r); status != 0 {
			s3Error(w, status, map[bool]string{true: "AccessDenied", false: "InternalError"}[status == http.StatusForbidden], "injected failure")
			return
		}
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	switch {
	case bucket == "":
		s3Error(w, http.StatusBadRequest, "InvalidRequest", "no bucket")
	case key == "" && r.Method == http.MethodGet && q.Has("location"):
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-east-1</LocationConstraint>`)
	case key == "":
		s3Error(w, http.StatusNotImplemented, "NotImplemented", "bucket operations are not implemented")
	case r.Method == http.MethodPost && q.Has("uploads"):
		s.initiate(w, bucket, key)
	case r.Method == http.MethodPut && q.Has("uploadId"):
		s.putPart(w, r, q.Get("uploadId"), q.Get("partNumber"))
	case r.Method == http.MethodPost && q.Has("uploadId"):
		s.complete(w, r, bucket, key, q.Get("uploadId"))
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		s.mu.Lock()
		delete(s.uploads, q.Get("uploadId"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut:
		data, err := readBody(r)
		if err != nil {
			s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
		o := s.store(bucket, key, data, r.Header.Get("Content-Type"))
		w.Header().Set("ETag", `"`+o.ETag+`"`)
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.get(w, r, bucket, key)
	case r.Method == http.MethodDelete:
		s.mu.Lock()
		delete(s.objects, bucket+"/"+key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented", r.Method+" is not implemented")
	}
}

func (s *Server) store(bucket, key string, data []byte, ctype string) Object {
	sum := md5.Sum(data)
	o := Object{Data: data, ContentType: ctype, ETag: hex.EncodeToString(sum[:]), Modified: time.Now().UTC().Truncate(time.Second)}
	s.mu.Lock()
	s.objects[bucket+"/"+key] = o
	s.mu.Unlock()
	select {
	case s.puts <- bucket + "/" + key:
	default:
	}
	return o
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, bucket, key string) {
	o, ok := s.Get(bucket, key)
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && strings.Trim(m, `"`) != o.ETag {
		s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed", "If-Match")
		return
	}
	h := w.Header()
	h.Set("ETag", `"`+o.ETag+`"`)
	h.Set("Last-Modified", o.Modified.Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	if o.ContentType != "" {
		h.Set("Content-Type", o.ContentType)
	}
	data, status := o.Data, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && r.Method == http.MethodGet {
		start, end, ok := parseRange(rg, int64(len(o.Data)))
		if !ok {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(o.Data)))
			s3Error(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
			return
		}
		data, status = o.Data[start:end+1], http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(o.Data)))
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(data)
	}
}

// parseRange reads one "bytes=a-b", "bytes=a-" or "bytes=-n" range.
func parseRange(h string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	var err error
	switch {
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		start, end = max(size-n, 0), size-1
	default:
		if start, err = strconv.ParseInt(a, 10, 64); err != nil {
			return 0, 0, false
		}
		end = size - 1
		if b != "" {
			if end, err = strconv.ParseInt(b, 10, 64); err != nil {
				return 0, 0, false
			}
			end = min(end, size-1)
		}
	}
	if start < 0 || start >= size || end < start {
		return 0, 0, false
	}
	return start, end, true
}

func (s *Server) initiate(w http.ResponseWriter, bucket, key string) {
	s.mu.Lock()
	s.nextID++
	id := fmt.Sprintf("upload-%d", s.nextID)
	s.uploads[id] = map[int][]byte{}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket   string
		Key      string
		UploadID string `xml:"UploadId"`
	}{Bucket: bucket, Key: key, UploadID: id})
}

func (s *Server) putPart(w http.ResponseWriter, r *http.Request, id, number string) {
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 {
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "partNumber")
		return
	}
	data, err := readBody(r)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	s.mu.Lock()
	parts, ok := s.uploads[id]
	if ok {
		parts[n] = data
	}
	s.mu.Unlock()
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", id)
		return
	}
	sum := md5.Sum(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, bucket, key, id string) {
	var req struct {
		Parts []struct {
			PartNumber int
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(r.Body).Decode(&req); err != nil {
		s3Error(w, http.StatusBadRequest, "MalformedXML", err.Error())
		return
	}
	s.mu.Lock()
	parts, ok := s.uploads[id]
	delete(s.uploads, id)
	s.mu.Unlock()
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", id)
		return
	}
	var buf bytes.Buffer
	for _, p := range req.Parts {
		data, ok := parts[p.PartNumber]
		if !ok {
			s3Error(w, http.StatusBadRequest, "InvalidPart", strconv.Itoa(p.PartNumber))
			return
		}
		buf.Write(data)
	}
	o := s.store(bucket, key, buf.Bytes(), "")
	w.Header().Set("Content-Type", "application/xml")
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"CompleteMultipartUploadResult"`
		Bucket  string
		Key     string
		ETag    string
	}{Bucket: bucket, Key: key, ETag: `"` + o.ETag + `"`})
}

// readBody reads a request body, decoding aws-chunked encoding (the
// streaming signature minio-go uses over plain HTTP).
func readBody(r *http.Request) ([]byte, error) {
	if !strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") &&
		!strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		return io.ReadAll(r.Body)
	}
	br := bufio.NewReader(r.Body)
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("aws-chunked: chunk header: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("aws-chunked: chunk size %q", sizeHex)
		}
		if n == 0 {
			return out.Bytes(), nil // trailers, if any, are ignored
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, fmt.Errorf("aws-chunked: chunk data: %w", err)
		}
		if crlf, err := br.ReadString('\n'); err != nil || strings.TrimRight(crlf, "\r\n") != "" {
			return nil, fmt.Errorf("aws-chunked: chunk end")
		}
	}
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: msg})
}
