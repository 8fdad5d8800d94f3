package identity

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// MaxPhotoBytes is the largest profile photo accepted; MaxPhotoSide the largest width or height.
const (
	MaxPhotoBytes = 2 << 20
	MaxPhotoSide  = 2048
)

// CheckPhoto decides a photo's type by its content, not its name: it must decode as a JPEG or PNG
// of at most MaxPhotoSide pixels a side. It returns the content type, or errs.TooLarge /
// errs.Invalid about field "photo".
func CheckPhoto(data []byte) (string, error) {
	if len(data) > MaxPhotoBytes {
		return "", errs.Field(errs.TooLarge, "photo", "must be at most 2 MB")
	}
	if len(data) == 0 {
		return "", errs.Field(errs.Invalid, "photo", "is empty")
	}
	var ct string
	var cfg image.Config
	var err error
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		ct = "image/jpeg"
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		ct = "image/png"
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	default:
		return "", errs.Field(errs.Invalid, "photo", "must be a JPG or PNG image")
	}
	if err != nil {
		return "", errs.Field(errs.Invalid, "photo", "is not a readable %s image", ct[6:])
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPhotoSide || cfg.Height > MaxPhotoSide {
		return "", errs.Field(errs.Invalid, "photo", "must be at most %d×%d pixels", MaxPhotoSide, MaxPhotoSide)
	}
	// Decode fully so that a truncated or corrupt body is refused now, not in a browser later.
	if ct == "image/jpeg" {
		_, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		_, err = png.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return "", errs.Field(errs.Invalid, "photo", "is not a readable %s image", ct[6:])
	}
	return ct, nil
}

// SetPhoto stores u's profile photo after CheckPhoto. Only the user or an admin may.
func (s *Service) SetPhoto(ctx context.Context, actor *User, userID string, data []byte) error {
	if actor.ID != userID && actor.Role != RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can change another user's photo")
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	ct, err := CheckPhoto(data) // a full decode: up to 2048² pixels of memory, so bounded
	release()
	if err != nil {
		return err
	}
	return errs.Op("identity.SetPhoto", s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := s.getUser(ctx, tx, actor.WorkspaceID, userID)
		if err != nil {
			return err
		}
		now := db.Micro(s.clk.Now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_photos (user_id, workspace_id, content_type, data, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data, updated_at = excluded.updated_at`,
			u.ID, u.WorkspaceID, ct, data, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET photo_updated_at = $1, updated_at = $1 WHERE workspace_id = $2 AND id = $3`, now, u.WorkspaceID, u.ID)
		return err
	}))
}

// Photo returns a user's photo: content type, bytes and time of upload, or errs.NotFound.
func (s *Service) Photo(ctx context.Context, wsID, userID string) (string, []byte, time.Time, error) {
	if !id.Valid("usr", userID) {
		return "", nil, time.Time{}, errs.NotFoundf("no photo")
	}
	var ct string
	var data []byte
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT content_type, data, updated_at FROM user_photos WHERE workspace_id = $1 AND user_id = $2`,
		wsID, userID).Scan(&ct, &data, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, time.Time{}, errs.NotFoundf("no photo")
	}
	if err != nil {
		return "", nil, time.Time{}, fmt.Errorf("identity.Photo: %w", err)
	}
	return ct, data, db.Time(updated), nil
}
