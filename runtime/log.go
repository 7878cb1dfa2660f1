package runtime

import (
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// logDebugf writes to the log ConfigureLog set up (runc's format, text or
// JSON lines); it is silent below --debug.
func logDebugf(format string, args ...any) { logrus.Debugf(format, args...) }

// ConfigureLog sets logrus up as runc does, for the command and its init
// alike: path (--log) opened append+sync, or stderr when empty; format
// "text" or "json" lines; debug level with --debug.
func ConfigureLog(path, format string, debug bool) error {
	var f logrus.Formatter
	switch format {
	case "text":
		f = &logrus.TextFormatter{DisableColors: true, FullTimestamp: true, TimestampFormat: time.RFC3339Nano}
	case "json":
		f = &logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano}
	default:
		return fmt.Errorf("invalid log-format: %q", format)
	}
	out := os.Stderr
	if path != "" {
		var err error
		if out, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644); err != nil {
			return err // nothing changed: the init's stderr is the container's
		}
	}
	logrus.SetFormatter(f)
	logrus.SetOutput(out)
	logrus.SetLevel(logrus.InfoLevel)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	return nil
}

// configureInitLog points the init's logrus at the command's --log file,
// at debug level; without --log the init stays silent (its stderr is the
// container's).
func configureInitLog(cfg initConfig) {
	if cfg.LogPath == "" {
		return
	}
	format := cfg.LogFormat
	if format == "" {
		format = "text"
	}
	ConfigureLog(cfg.LogPath, format, true)
}
