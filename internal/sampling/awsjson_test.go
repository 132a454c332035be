package sampling

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAWSTimeMarshalsEpochSecondsNumber(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "0"},
		{time.Unix(1795619839, 136_000_000), "1795619839.136"},
		{time.Unix(1795619839, 136_999_999), "1795619839.136"}, // truncated to ms
		{time.Unix(1795619839, 100_000_000), "1795619839.1"},
		{time.Unix(1795619839, 0), "1795619839"},
		{time.Unix(-1, -500_000_000), "-1.5"},
	}
	for _, tt := range tests {
		got, err := json.Marshal(AWSTime{tt.t})
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.t, got, err, tt.want)
		}
	}
}

func TestAWSTimeUnmarshalIsLenient(t *testing.T) {
	want := time.Unix(1795619839, 136_000_000).UTC()
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{`1795619839.136`, want, false},
		{`"1795619839.136"`, want, false},
		{`1.795619839136e9`, want, false},
		{`1795619839`, time.Unix(1795619839, 0).UTC(), false},
		{`1795619839.123456789123`, time.Unix(1795619839, 123456789).UTC(), false},
		{`"2026-11-25T15:17:19.136Z"`, want, false},
		{`"2026-11-25T17:17:19.136+02:00"`, want, false},
		{`"2026-11-25T15:17:19"`, time.Unix(1795619839, 0).UTC(), false},
		{`"yesterday"`, time.Time{}, true},
		{`"1795619839.1x"`, time.Time{}, true},
		{`true`, time.Time{}, true},
		{`"-"`, time.Time{}, true},
		{`1e300`, time.Time{}, true},
		{`99999999999999999999`, time.Time{}, true},
	}
	for _, tt := range tests {
		var got AWSTime
		err := json.Unmarshal([]byte(tt.in), &got)
		if tt.err {
			if err == nil {
				t.Errorf("Unmarshal(%s) accepted: %v", tt.in, got.Time)
			}
			continue
		}
		if err != nil || !got.Time.Equal(tt.want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", tt.in, got.Time, err, tt.want)
		}
	}
	var absent struct{ T *AWSTime }
	if err := json.Unmarshal([]byte(`{"T":null}`), &absent); err != nil || absent.T != nil {
		t.Errorf("null timestamp: %v %v", absent.T, err)
	}
}

func TestDecodeBodyClassifiesErrors(t *testing.T) {
	type in struct {
		N *int    `json:"N"`
		S *string `json:"S"`
	}
	tests := []struct {
		body, code, contains string
	}{
		{``, "", ""},
		{`{}`, "", ""},
		{`{"N":1,"Unknown":{"deep":[1,2]}}`, "", ""},
		{`{"N":null}`, "", ""},
		{`not json`, CodeSerialization, "JSON object"},
		{`[]`, CodeSerialization, "JSON object"},
		{`{"N":`, CodeSerialization, "malformed"},
		{`{"N":"x"}`, CodeSerialization, "N"},
		{`{} {}`, CodeSerialization, "after"},
	}
	for _, tt := range tests {
		var v in
		err := decodeBody([]byte(tt.body), &v)
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("decode(%q) = %v", tt.body, err)
		case tt.code != "" && (err == nil || err.Code != tt.code || !strings.Contains(err.Message, tt.contains)):
			t.Errorf("decode(%q) = %v, want %s containing %q", tt.body, err, tt.code, tt.contains)
		}
	}
}

func TestWriteErrorSetsHeaderAndBody(t *testing.T) {
	w := httptest.NewRecorder()
	writeError(w, "rid", invalidRequest("StartTime must be before EndTime"))
	if w.Code != 400 || w.Header().Get("x-amzn-ErrorType") != CodeInvalidRequest || w.Header().Get("x-amzn-RequestId") != "rid" ||
		w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d headers %v", w.Code, w.Header())
	}
	if got := w.Body.String(); got != `{"__type":"InvalidRequestException","message":"StartTime must be before EndTime"}` {
		t.Fatalf("body = %s", got)
	}
}

func TestRandomRequestIDLooksLikeUUID(t *testing.T) {
	a, b := randomRequestID(), randomRequestID()
	if len(a) != 36 || a[14] != '4' || a == b {
		t.Fatalf("ids %q %q", a, b)
	}
}
