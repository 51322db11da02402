# Renderer tests for modules/lib/notify.nix: exact output and every throw.
let
  lib = import ../../modules/lib;
  n = lib.notify;
  tools = {
    curl = "/bin/curl";
    sendmail = "/sbin/sendmail";
  };
  script = kind: target: n.script {
    cfg = {
      enable = true;
      inherit kind target;
    };
    inherit tools;
  };
  head = kind: ''
    #!/usr/bin/env bash
    # hearth-notify TITLE < BODY: sends one notification (${kind}).
    set -uo pipefail
    title=$(printf '%s' "''${1:-hearth}" | tr -d '\r\n')
    body=$(head -c 8192)
  '';
in
[
  {
    name = "ntfy: POST to the topic, title in the header";
    expr = script "ntfy" "https://ntfy.sh/t";
    expected = head "ntfy" + ''
      printf '%s\n' "$body" | /bin/curl -fsS --max-time 30 -H "Title: $title" --data-binary @- 'https://ntfy.sh/t' >/dev/null
    '';
  }
  {
    name = "command: sh -c with the title as $1, quotes escaped";
    expr = script "command" "logger -t 'hearth alert'";
    expected =
      head "command"
      + "printf '%s\\n' \"$body\" | sh -c 'logger -t '\\''hearth alert'\\''' hearth-notify \"$title\"\n";
  }
  {
    name = "email: a message through sendmail -t";
    expr = script "email" "a@b.net";
    expected = head "email" + ''
      { printf 'To: %s\nSubject: %s\n\n' 'a@b.net' "$title"; printf '%s\n' "$body"; } | /sbin/sendmail -t
    '';
  }
  {
    name = "failure script: the unit's status through the program";
    expr = n.failureScript { program = "/bin/hearth-notify"; };
    expected = ''
      unit=''${1:?usage: hearth-notify@UNIT.service}
      systemctl status --full --no-pager --lines=30 "$unit" 2>&1 \
        | /bin/hearth-notify "$(hostname): $unit failed"
    '';
  }
  {
    name = "unknown kind throws";
    throws = script "pager" "x";
    message = "hearth.notify.kind must be one of command, ntfy, email (got pager)";
  }
  {
    name = "empty target throws";
    throws = script "ntfy" "";
    message = "hearth.notify.target is empty";
  }
]
