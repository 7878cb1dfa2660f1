package runtime

import (
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// logDebugf writes to the log main configured (runc's format, text or
// JSON lines); it is silent below --debug.
func logDebugf(format string, args ...any) { logrus.Debugf(format, args...) }

// configureInitLog points the init's logrus at the command's --log file.
func configureInitLog(cfg initConfig) {
	if cfg.LogPath == "" {
		return
	}
	f, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		return
	}
	logrus.SetOutput(f)
	logrus.SetLevel(logrus.DebugLevel)
	if cfg.LogFormat == "json" {
		logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	} else {
		logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true, TimestampFormat: time.RFC3339Nano})
	}
}
