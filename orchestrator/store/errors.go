package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Sentinel errors. Methods wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the row does not exist, or belongs to another account.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is already taken (a number, an account SID,
	// a call SID, a leg UUID), or a referenced row is in the way.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: an argument is malformed (bad SID, bad E.164 number,
	// unknown status, empty name).
	ErrInvalid = errors.New("invalid argument")
	// ErrFlowAssigned: the flow cannot be deleted while a number points at it.
	ErrFlowAssigned = errors.New("flow is assigned to a number")
	// ErrNotPublished: the flow has no published version.
	ErrNotPublished = errors.New("flow is not published")
	// ErrNoFlow: the number has no flow assigned.
	ErrNoFlow = errors.New("number has no flow")
	// ErrUnauthorized: unknown user, wrong token or revoked key.
	ErrUnauthorized = errors.New("unauthorized")
)

// dbErr turns a database error into the package's vocabulary. op names the
// operation for the message. Record-not-found becomes ErrNotFound (without
// GORM's error in the chain); unique violations become ErrConflict; foreign
// key violations become ErrConflict too unless the call site knows better
// (see insertErr); data exceptions (a value PostgreSQL refuses) become
// ErrInvalid.
func dbErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("%s: %w (%v)", op, ErrConflict, err)
	case isForeignKeyViolation(err):
		return fmt.Errorf("%s: %w (%v)", op, ErrConflict, err)
	case isDataException(err):
		return fmt.Errorf("%s: %w (%v)", op, ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// InvalidInput reports whether err comes from a value the database cannot
// take: ErrInvalid, or a PostgreSQL data exception (SQLSTATE class 22: a
// NUL byte or invalid UTF-8 in text, a number out of a column's range, a
// malformed value), whichever repository or query it came through. Such
// errors are the caller's input, not a failure of the database.
func InvalidInput(err error) bool {
	return errors.Is(err, ErrInvalid) || isDataException(err)
}

func isDataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

// insertErr is dbErr for inserts and updates that point at a parent row: a
// foreign key violation there means the parent (account, call, flow) does
// not exist for this account, which callers see as ErrNotFound.
func insertErr(op string, err error) error {
	if isForeignKeyViolation(err) {
		return fmt.Errorf("%s: %w (referenced row missing: %v)", op, ErrNotFound, err)
	}
	return dbErr(op, err)
}

func isUniqueViolation(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func isForeignKeyViolation(err error) bool {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// isExpected reports errors that are part of normal operation (the caller
// maps them to 4xx or retries) and are logged at debug, not warn.
func isExpected(err error) bool {
	return errors.Is(err, gorm.ErrRecordNotFound) ||
		isUniqueViolation(err) || isForeignKeyViolation(err) || isDataException(err) ||
		errors.Is(err, context.Canceled)
}
