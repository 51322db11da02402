# hearth's notification hook, rendered from `hearth.notify` (builtins only).
#
#   script { cfg; tools = { curl; sendmail; }; } -> text of `hearth-notify TITLE`
#       (a bash program; the message body comes on stdin, at most 8 KiB are sent)
#   failureScript { program; } -> the body of hearth-notify@.service: the
#       failed unit's status ($1) sent through `program`
#
# One destination: cfg.kind is "command" (run by sh -c with the title as $1
# and the body on stdin), "ntfy" (POST to the topic URL, title in the Title
# header) or "email" (a message to cfg.target through `sendmail -t`).
let
  inherit (builtins) replaceStrings throw elem;
  q = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  kinds = [
    "command"
    "ntfy"
    "email"
  ];
  send =
    cfg: tools:
    if cfg.kind == "command" then
      ''printf '%s\n' "$body" | sh -c ${q cfg.target} hearth-notify "$title"''
    else if cfg.kind == "ntfy" then
      ''printf '%s\n' "$body" | ${tools.curl} -fsS --max-time 30 -H "Title: $title" --data-binary @- ${q cfg.target} >/dev/null''
    else if cfg.kind == "email" then
      ''{ printf 'To: %s\nSubject: %s\n\n' ${q cfg.target} "$title"; printf '%s\n' "$body"; } | ${tools.sendmail} -t''
    else
      throw "hearth.notify.kind must be one of command, ntfy, email (got ${cfg.kind})";
in
{
  script =
    { cfg, tools }:
    if !(elem cfg.kind kinds) then
      throw "hearth.notify.kind must be one of command, ntfy, email (got ${cfg.kind})"
    else if cfg.target == "" then
      throw "hearth.notify.target is empty"
    else
      ''
        #!/usr/bin/env bash
        # hearth-notify TITLE < BODY: sends one notification (${cfg.kind}).
        set -uo pipefail
        title=$(printf '%s' "''${1:-hearth}" | tr -d '\r\n')
        body=$(head -c 8192)
        ${send cfg tools}
      '';

  failureScript =
    { program }:
    ''
      unit=''${1:?usage: hearth-notify@UNIT.service}
      systemctl status --full --no-pager --lines=30 "$unit" 2>&1 \
        | ${program} "$(hostname): $unit failed"
    '';
}
