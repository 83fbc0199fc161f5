package redisstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// pruneAbove is the size past which a set of sessions (one user's, or one
// provider session's) is pruned of expired members when a new one joins.
const pruneAbove = 16

// indexAdd adds session ARGV[1] to the index set KEYS[1] and makes the set
// live at least ARGV[2] milliseconds, the session's TTL. It returns whether
// the member is new and the set's size.
var indexAdd = redis.NewScript(`
local added = redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {added, redis.call('SCARD', KEYS[1])}
`)

// endIfMatch ends the session KEYS[1] (replacing it with the tombstone
// ARGV[5] for ARGV[6] ms) if the hash of its field ARGV[1] ("sub" or
// "sid", read from the sealed value's clear header, whose first byte is
// ARGV[7]) is ARGV[2] and, when ARGV[3] is not empty, the hash of its
// field ARGV[3] is ARGV[4]. It returns {1, hsub, hsid} when it ended the
// session, {2} when the session belongs to the index but not to the
// other field, and {0} when the session is gone or no longer belongs to
// the index (its member is stale).
var endIfMatch = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v or string.len(v) < 65 or string.sub(v, 1, 1) ~= ARGV[7] then return {0} end
local f = {sub = string.sub(v, 2, 33), sid = string.sub(v, 34, 65)}
if f[ARGV[1]] ~= ARGV[2] then return {0} end
if ARGV[3] ~= '' and f[ARGV[3]] ~= ARGV[4] then return {2} end
redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[6])
return {1, f.sub, f.sid}
`)

// errEndArgs is returned by EndSessions without a subject or a sid.
var errEndArgs = errors.New("redisstore: EndSessions needs a subject or a sid")

// EndSessions implements nihttp.ServerStore: it deletes the sessions of
// subject, or when sid is not empty those of provider session sid (of
// subject too, when subject is not empty), and returns how many it
// deleted. It makes three round trips whatever the number of sessions:
// read the index, delete the matching sessions (one script each, one key
// each), remove them from the indexes.
func (s *Store) EndSessions(ctx context.Context, subject, sid string) (int, error) {
	if subject == "" && sid == "" {
		return 0, errEndArgs
	}
	hsub, hsid := fieldHash(subHashDomain, subject), fieldHash(sidHashDomain, sid)
	idx, field, value, other, otherValue := s.subjectKey(hsub), "sub", string(hsub[:]), "", ""
	if sid != "" {
		idx, field, value = s.sidKey(hsid), "sid", string(hsid[:])
		if subject != "" {
			other, otherValue = "sub", string(hsub[:])
		}
	}
	return do(ctx, s, "ending sessions", func(ctx context.Context) (int, error) {
		return s.endSessions(ctx, idx, field, value, other, otherValue)
	})
}

// endSessions is EndSessions once its arguments are checked: it ends the
// sessions of index set idx whose field hashes to value (and other to
// otherValue). The set's members are the sessions' idHash.
func (s *Store) endSessions(ctx context.Context, idx, field, value, other, otherValue string) (int, error) {
	ids, err := s.rdb.SMembers(ctx, idx).Result()
	if err != nil {
		return 0, unavailable("ending sessions", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(ids))
	for i, id := range ids {
		if !validMember(id) {
			continue // not written by this store: removed below
		}
		cmds[i] = endIfMatch.Eval(ctx, pipe, []string{s.sessionKey(id)}, field, value, other, otherValue,
			tombstone, tombstoneTTL.Milliseconds(), string([]byte{sealVersion}))
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, unavailable("ending sessions", err)
		}
	}

	n := 0
	pipe = s.rdb.Pipeline()
	for i, c := range cmds {
		if c == nil {
			pipe.SRem(ctx, idx, ids[i])
			continue
		}
		r, err := c.Slice()
		if err != nil || len(r) == 0 {
			return n, unavailable("ending sessions", errors.Join(err, errors.New("unexpected script reply")))
		}
		switch code, _ := r[0].(int64); code {
		case 0: // gone or stale
			pipe.SRem(ctx, idx, ids[i])
		case 1:
			n++
			pipe.SRem(ctx, idx, ids[i])
			// Its entry in the other index is removed too.
			if len(r) == 3 {
				other := r[2]
				if field == "sid" {
					other = r[1]
				}
				var h [hashLen]byte
				if v, _ := other.(string); len(v) == hashLen && v != string(h[:]) {
					copy(h[:], v)
					if field == "sub" {
						pipe.SRem(ctx, s.sidKey(h), ids[i])
					} else {
						pipe.SRem(ctx, s.subjectKey(h), ids[i])
					}
				}
			}
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return n, unavailable("ending sessions", err)
		}
	}
	return n, nil
}

// prune removes from the index set idx the sessions that no longer exist
// (a tombstone counts as existing: its member goes when it expires).
func (s *Store) prune(ctx context.Context, idx string) error {
	ids, err := s.rdb.SMembers(ctx, idx).Result()
	if err != nil {
		return unavailable("pruning index", err)
	}
	pipe := s.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		if validMember(id) {
			exists[i] = pipe.Exists(ctx, s.sessionKey(id))
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return unavailable("pruning index", err)
		}
	}
	var gone []any
	for i, c := range exists {
		if c == nil || c.Val() == 0 {
			gone = append(gone, ids[i])
		}
	}
	if len(gone) == 0 {
		return nil
	}
	if err := s.rdb.SRem(ctx, idx, gone...).Err(); err != nil {
		return unavailable("pruning index", err)
	}
	return nil
}

// validMember reports whether an index member can be an idHash, so that
// nothing else is made into a key.
func validMember(m string) bool {
	return len(m) == idHashLen && validID(m)
}
