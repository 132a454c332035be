package awsjson

import (
	"net/http"
	"testing"
)

func TestErrorCodeReadsAnswersAsTheSDKsDo(t *testing.T) {
	tests := []struct {
		name, header, body, code, message string
	}{
		{"header wins, details cut", "ThrottledException:http://internal.amazon.com/", `{"__type":"Other","message":"Rate exceeded"}`, "ThrottledException", "Rate exceeded"},
		{"__type with namespace", "", `{"__type":"com.amazonaws.xray#InvalidRequestException","Message":"bad"}`, "InvalidRequestException", "bad"},
		{"code field", "", `{"code":"AccessDeniedException","message":"no"}`, "AccessDeniedException", "no"},
		{"nothing readable", "", `<html>oops</html>`, "", ""},
		{"empty", "", ``, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("X-Amzn-ErrorType", tt.header)
			}
			code, msg := ErrorCode(h, []byte(tt.body))
			if code != tt.code || msg != tt.message {
				t.Fatalf("ErrorCode = %q, %q; want %q, %q", code, msg, tt.code, tt.message)
			}
		})
	}
}
