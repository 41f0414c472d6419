package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/leaktrace/leaktrace/canary"
)

var _ canary.MailboxStateStore = (*DB)(nil)

// MailboxState returns how far the mailbox has been read; the zero state
// when it never was.
func (d *DB) MailboxState(ctx context.Context, key canary.MailboxKey) (canary.MailboxState, error) {
	var st canary.MailboxState
	var validity, last int64
	err := d.db.QueryRowContext(ctx, `SELECT uid_validity, last_uid FROM mailbox_state WHERE server = ? AND username = ? AND mailbox = ?`,
		key.Server, key.User, key.Mailbox).Scan(&validity, &last)
	switch err {
	case nil:
		st.UIDValidity, st.LastUID = uint32(validity), uint32(last)
		return st, nil
	case sql.ErrNoRows:
		return st, nil
	default:
		return st, fmt.Errorf("read state of mailbox %s: %w", key.Mailbox, err)
	}
}

// SaveMailboxState records how far the mailbox has been read.
func (d *DB) SaveMailboxState(ctx context.Context, key canary.MailboxKey, st canary.MailboxState) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO mailbox_state (server, username, mailbox, uid_validity, last_uid, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (server, username, mailbox) DO UPDATE SET
		uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, updated_at = excluded.updated_at`,
		key.Server, key.User, key.Mailbox, int64(st.UIDValidity), int64(st.LastUID), fmtTime(tx.now)); err != nil {
		return fmt.Errorf("save state of mailbox %s: %w", key.Mailbox, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit state of mailbox %s: %w", key.Mailbox, err)
	}
	return nil
}
