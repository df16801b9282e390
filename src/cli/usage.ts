// The command line's usage text, printed by --help and with every misuse.

export const USAGE = `usage:
  hibiki --config FILE [--log-level LEVEL]     start the server
  hibiki config check FILE                     validate a configuration file
  hibiki registrations --config FILE           list registered contacts
  hibiki park list --config FILE               list parked calls (slot, party, parked by, since)
  hibiki cdr export --config FILE --from YYYY-MM-DD --to YYYY-MM-DD [--encoding utf8|shift_jis] [--out DIR]
                                               write call-detail records as CSV (40,000 rows per file)
  hibiki forwarding show EXT --config FILE     an extension's forwarding state and what applies now
  hibiki forwarding set EXT cfu|cfb|cfna|cfur on [NUMBER] --config FILE
  hibiki forwarding set EXT cfu|cfb|cfna|cfur off --config FILE
                                               turn a forwarding condition on (new or stored destination) or off
  hibiki dnd EXT on|off --config FILE          do-not-disturb on or off
  hibiki bulk list --config FILE               bulk-forwarding sets and whether they are on
  hibiki bulk on|off NAME --config FILE        switch a bulk-forwarding set; prints each member's result,
                                               exits 1 when any member is in error
  hibiki screening stats --config FILE         rejected incoming calls per extension and DID, this month and last
  hibiki locks list --config FILE              username locks and address blocks in force
                                               (kind, username, address, locked at, until, reason)
  hibiki locks clear user NAME [ADDRESS|*] --config FILE
  hibiki locks clear address ADDRESS --config FILE
  hibiki locks clear all --config FILE         end locks now: a username's (all of them, the one for
                                               ADDRESS, or * the one for every address), an address
                                               block, or every lock; exits 1 when none matched
  hibiki extension remove NUMBER --config FILE [--force]
                                               delete an extension from the YAML; refused while it is a member of a
                                               group, pickup group or bulk set unless --force takes it out of them
  hibiki extensions import FILE [--encoding auto|utf8|shift_jis] --config FILE
                                               add and update extensions from a CSV file (docs/api-extensions.md);
                                               all or nothing: any bad row rejects the file, every error listed
  hibiki extensions export [--encoding utf8|shift_jis] [--include-passwords] [--out FILE] --config FILE
                                               every extension as CSV (to stdout without --out); passwords and
                                               PINs only with --include-passwords
  hibiki voicemail list [BOX] --config FILE    voicemail boxes with their new and saved counts; with BOX its
                                               messages (id, status, received, caller, name, seconds, file)
  hibiki voicemail export BOX ID FILE --config FILE
                                               copy a message's WAV to FILE (play it with any audio player)
  hibiki voicemail delete BOX ID --config FILE delete a message and its file; a running server's lamps follow
                                               at the box's next change
  hibiki queue show [NUMBER] --config FILE     live figures of today per queue: calls, callers waiting, agents by state
  hibiki queue stats --from YYYY-MM-DD[THH:MM] --to YYYY-MM-DD[THH:MM] [--by hour|day] [--agents] [--csv]
                     [--encoding utf8|sjis] --config FILE
                                               figures per hour (default) or day and queue, or with --agents per
                                               agent; tenant time; a --to date without a time includes that day
  hibiki agent show [EXTENSION] --config FILE  agents' holds per queue (paused with reason, wrapup, since, until)
  hibiki agent pause EXTENSION [QUEUE] [--reason TEXT] --config FILE
  hibiki agent resume EXTENSION [QUEUE] --config FILE
  hibiki conference list --config FILE         rooms in progress and their participants
  hibiki conference kick|mute|unmute ROOM PARTICIPANT --config FILE
                                               pause or resume an agent in one queue or every queue it is in
  hibiki hotdesk list --config FILE            hot-desk logins (extension, device, since, expires)
  hibiki hotdesk logout EXT --config FILE      end the hot-desk login of an extension (or of a device);
                                               exits 1 when there is none
  hibiki recordings list [--from YYYY-MM-DD] [--to YYYY-MM-DD] --config FILE
                                               recorded calls (call id, linked id, started, caller, callee, billsec, file)
  hibiki recordings export CALL_ID FILE --config FILE
                                               copy a call's recording (by CDR call id or linked id) to FILE
  hibiki admin create NAME [--role admin|supervisor|agent|user] [--extension NUMBER] [--password-stdin] --config FILE
                                               make a console/API account (the first admin comes from here); without
                                               --password-stdin a password is generated and printed once
  hibiki admin list --config FILE              accounts (name, role, extension, locked)
  hibiki admin unlock NAME --config FILE       clear an account's login lock
  hibiki --help | --version`;
