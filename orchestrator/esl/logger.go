package esl

import (
	"fmt"
	"log/slog"
	"strings"
)

// eslgoLogger sends eslgo's printf-style logs to slog, one level down: the
// library is chatty about things this package handles itself.
type eslgoLogger struct{ log *slog.Logger }

func (l eslgoLogger) Debug(format string, args ...any) { l.log.Debug(l.msg(format, args)) }
func (l eslgoLogger) Info(format string, args ...any)  { l.log.Debug(l.msg(format, args)) }
func (l eslgoLogger) Warn(format string, args ...any)  { l.log.Info(l.msg(format, args)) }
func (l eslgoLogger) Error(format string, args ...any) { l.log.Warn(l.msg(format, args)) }

func (eslgoLogger) msg(format string, args []any) string {
	return "eslgo: " + strings.TrimSpace(fmt.Sprintf(format, args...))
}
