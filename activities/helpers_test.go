package activities_test

import (
	"encoding/base64"
	"strconv"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
