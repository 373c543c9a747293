package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
)

// gormLogger sends GORM's logs to slog: failed queries at warn (expected
// ones such as unique violations at debug), slow queries at warn, every
// other query at debug. Record-not-found is never logged.
type gormLogger struct {
	log   *slog.Logger
	slow  time.Duration
	level gormlogger.LogLevel
}

func newGormLogger(log *slog.Logger, slow time.Duration) *gormLogger {
	return &gormLogger{log: log, slow: slow, level: gormlogger.Info}
}

func (l *gormLogger) LogMode(level gormlogger.LogLevel) gormlogger.Interface {
	c := *l
	c.level = level
	return &c
}

func (l *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	if l.level >= gormlogger.Info {
		l.log.DebugContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
	}
}

func (l *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	if l.level >= gormlogger.Warn {
		l.log.WarnContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
	}
}

func (l *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	if l.level >= gormlogger.Error {
		l.log.ErrorContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
	}
}

func (l *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if l.level <= gormlogger.Silent {
		return
	}
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound):
		level := slog.LevelWarn
		if isExpected(err) {
			level = slog.LevelDebug
		}
		if !l.log.Enabled(ctx, level) {
			return
		}
		query, rows := fc()
		l.log.Log(ctx, level, "store: query failed", "err", err, "elapsed", elapsed, "rows", rows, "sql", query)
	case l.slow > 0 && elapsed > l.slow:
		query, rows := fc()
		l.log.WarnContext(ctx, "store: slow query", "elapsed", elapsed, "threshold", l.slow, "rows", rows, "sql", query)
	case l.log.Enabled(ctx, slog.LevelDebug):
		query, rows := fc()
		l.log.DebugContext(ctx, "store: query", "elapsed", elapsed, "rows", rows, "sql", query)
	}
}
