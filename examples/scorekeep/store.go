package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-xray-sdk-go/xray"
)

// errNotFound is returned by the store when an id is unknown; handlers map it to 404.
var errNotFound = errors.New("not found")

// User is a player.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Game is a session started by a user.
type Game struct {
	ID      string    `json:"id"`
	UserID  string    `json:"user_id"`
	Started time.Time `json:"started"`
}

// Score is one entry on a game's score board.
type Score struct {
	GameID string `json:"game_id"`
	UserID string `json:"user_id"`
	Points int    `json:"points"`
}

// store is an in-memory datastore standing in for DynamoDB in the original Scorekeep.
// Every operation runs inside xray.Capture, so each call shows up as its own subsegment
// ("datastore.<op>") with the table name as an annotation.
type store struct {
	mu     sync.Mutex
	nextID int
	users  map[string]User
	games  map[string]Game
	scores map[string][]Score // by game id
}

func newStore() *store {
	return &store{users: map[string]User{}, games: map[string]Game{}, scores: map[string][]Score{}}
}

// capture wraps one datastore call in a subsegment named after the operation.
func capture(ctx context.Context, op, table string, fn func() error) error {
	return xray.Capture(ctx, "datastore."+op, func(ctx context.Context) error {
		_ = xray.AddAnnotation(ctx, "table", table)
		return fn()
	})
}

func (s *store) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s-%06d", prefix, s.nextID)
}

// PutUser returns the user with that name, creating it on first use.
func (s *store) PutUser(ctx context.Context, name string) (User, error) {
	var u User
	err := capture(ctx, "PutUser", "users", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, existing := range s.users {
			if existing.Name == name {
				u = existing
				return nil
			}
		}
		u = User{ID: s.newID("user"), Name: name}
		s.users[u.ID] = u
		return nil
	})
	return u, err
}

// GetUser returns the user with that id or errNotFound.
func (s *store) GetUser(ctx context.Context, id string) (User, error) {
	var u User
	err := capture(ctx, "GetUser", "users", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		var ok bool
		if u, ok = s.users[id]; !ok {
			return fmt.Errorf("user %q: %w", id, errNotFound)
		}
		return nil
	})
	return u, err
}

// PutGame creates a game for a user.
func (s *store) PutGame(ctx context.Context, userID string, now time.Time) (Game, error) {
	var g Game
	err := capture(ctx, "PutGame", "games", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		g = Game{ID: s.newID("game"), UserID: userID, Started: now.UTC()}
		s.games[g.ID] = g
		return nil
	})
	return g, err
}

// GetGame returns the game with that id or errNotFound.
func (s *store) GetGame(ctx context.Context, id string) (Game, error) {
	var g Game
	err := capture(ctx, "GetGame", "games", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		var ok bool
		if g, ok = s.games[id]; !ok {
			return fmt.Errorf("game %q: %w", id, errNotFound)
		}
		return nil
	})
	return g, err
}

// AddScore appends a score to a game's board.
func (s *store) AddScore(ctx context.Context, sc Score) error {
	return capture(ctx, "AddScore", "scores", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.scores[sc.GameID] = append(s.scores[sc.GameID], sc)
		return nil
	})
}

// Scores returns a game's board, highest first.
func (s *store) Scores(ctx context.Context, gameID string) ([]Score, error) {
	var out []Score
	err := capture(ctx, "Scores", "scores", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		out = append([]Score(nil), s.scores[gameID]...)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Points > out[j].Points })
	return out, err
}
