package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-xray-sdk-go/xray"
)

// api serves the three resources. Handlers call each other over HTTP through peer, the way
// separate services would, so one request to /api/game produces one trace with a segment
// per hop: game -> users, game -> score -> users.
type api struct {
	store *store
	peer  *peer
	now   func() time.Time
	log   *slog.Logger
}

// routes returns the mux; main wraps it in xray.Handler.
func (a *api) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/users", a.createUser)
	mux.HandleFunc("GET /api/users/{id}", a.getUser)
	mux.HandleFunc("POST /api/game", a.createGame)
	mux.HandleFunc("GET /api/game/{id}", a.getGame)
	mux.HandleFunc("POST /api/score", a.addScore)
	mux.HandleFunc("GET /api/score", a.listScores)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// setUser records the player on the request's segment: it becomes the trace's "user"
// (filter expression `user = "alice"`) and an annotation (`annotation.player = "alice"`).
func setUser(ctx context.Context, name string) {
	if seg := xray.GetSegment(ctx); seg != nil {
		root := seg.ParentSegment
		if root == nil {
			root = seg
		}
		root.Lock()
		root.User = name
		root.Unlock()
	}
	_ = xray.AddAnnotation(ctx, "player", name)
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &in) || !require(w, in.Name != "", "name is required") {
		return
	}
	setUser(r.Context(), in.Name)
	u, err := a.store.PutUser(r.Context(), in.Name)
	a.reply(w, r, http.StatusCreated, u, err)
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.store.GetUser(r.Context(), r.PathValue("id"))
	if err == nil {
		setUser(r.Context(), u.Name)
	}
	a.reply(w, r, http.StatusOK, u, err)
}

func (a *api) createGame(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User string `json:"user"`
	}
	if !decode(w, r, &in) || !require(w, in.User != "", "user is required") {
		return
	}
	ctx := r.Context()
	setUser(ctx, in.User)
	var u User
	if err := a.peer.call(ctx, http.MethodPost, "/api/users", map[string]string{"name": in.User}, &u); err != nil {
		a.reply(w, r, 0, nil, err)
		return
	}
	g, err := a.store.PutGame(ctx, u.ID, a.now())
	if err != nil {
		a.reply(w, r, 0, nil, err)
		return
	}
	_ = xray.AddAnnotation(ctx, "game_id", g.ID)
	err = a.peer.call(ctx, http.MethodPost, "/api/score", Score{GameID: g.ID, UserID: u.ID, Points: 0}, nil)
	a.reply(w, r, http.StatusCreated, g, err)
}

func (a *api) getGame(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g, err := a.store.GetGame(ctx, r.PathValue("id"))
	if err != nil {
		a.reply(w, r, 0, nil, err)
		return
	}
	_ = xray.AddAnnotation(ctx, "game_id", g.ID)
	var u User
	if err := a.peer.call(ctx, http.MethodGet, "/api/users/"+url.PathEscape(g.UserID), nil, &u); err != nil {
		a.reply(w, r, 0, nil, err)
		return
	}
	setUser(ctx, u.Name)
	var board []Score
	err = a.peer.call(ctx, http.MethodGet, "/api/score?game="+url.QueryEscape(g.ID), nil, &board)
	a.reply(w, r, http.StatusOK, struct {
		Game
		Scores []Score `json:"scores"`
	}{g, board}, err)
}

func (a *api) addScore(w http.ResponseWriter, r *http.Request) {
	var in Score
	if !decode(w, r, &in) || !require(w, in.GameID != "" && in.UserID != "", "game_id and user_id are required") {
		return
	}
	ctx := r.Context()
	_ = xray.AddAnnotation(ctx, "game_id", in.GameID)
	var u User
	if err := a.peer.call(ctx, http.MethodGet, "/api/users/"+url.PathEscape(in.UserID), nil, &u); err != nil {
		a.reply(w, r, 0, nil, err)
		return
	}
	setUser(ctx, u.Name)
	_ = xray.AddMetadata(ctx, "score", in)
	a.reply(w, r, http.StatusCreated, in, a.store.AddScore(ctx, in))
}

func (a *api) listScores(w http.ResponseWriter, r *http.Request) {
	game := r.URL.Query().Get("game")
	if !require(w, game != "", "query parameter game is required") {
		return
	}
	board, err := a.store.Scores(r.Context(), game)
	a.reply(w, r, http.StatusOK, board, err)
}

// reply writes v as JSON with status, or maps err: errNotFound -> 404, a failed peer call
// -> 502, anything else -> 500. The error is also recorded on the segment.
func (a *api) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		_ = xray.AddError(r.Context(), err)
		var pe *peerError
		switch {
		case errors.Is(err, errNotFound):
			status = http.StatusNotFound
		case errors.As(err, &pe):
			status = http.StatusBadGateway
		default:
			status = http.StatusInternalServerError
		}
		a.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		http.Error(w, "request body must be JSON: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func require(w http.ResponseWriter, ok bool, msg string) bool {
	if !ok {
		http.Error(w, msg, http.StatusBadRequest)
	}
	return ok
}

// peer calls this service's own API over HTTP. Its client is wrapped by xray.Client, so every
// call becomes a remote subsegment and carries the X-Amzn-Trace-Id header downstream.
type peer struct {
	base   string
	client *http.Client
}

// peerError is a downstream call that failed or answered with a non-2xx status.
type peerError struct {
	Method, Path string
	Status       int
	Err          error
}

func (e *peerError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err)
	}
	return fmt.Sprintf("%s %s: status %d", e.Method, e.Path, e.Status)
}

func (e *peerError) Unwrap() error { return e.Err }

func (p *peer) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request for %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, body)
	if err != nil {
		return &peerError{Method: method, Path: path, Err: err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return &peerError{Method: method, Path: path, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return &peerError{Method: method, Path: path, Status: resp.StatusCode}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &peerError{Method: method, Path: path, Err: fmt.Errorf("decoding response: %w", err)}
	}
	return nil
}
