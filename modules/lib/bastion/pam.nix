# Renders the sshd PAM stack of the bastion and the option lines of a
# `.google_authenticator` file. builtins only.
#
# sshd has checked the public key before PAM runs (AuthenticationMethods
# publickey,keyboard-interactive). The auth stack then asks for exactly one
# thing, the TOTP code: pam_google_authenticator and nothing else. No
# pam_unix in auth, so no password prompt after the code (the trap of
# nixpkgs issue 115044, where googleAuthenticator.enable only works with
# unixAuth and so asks for the unix password too). No nullok: a TOTP user
# without a seed file is refused. Users with `totp = false` skip the code
# via pam_succeed_if; they still need their key.
#
# The seed files live at <cfg.totp.stateDir>/<user>, owned by root, mode
# 0600 (`user=root`: the module reads and rewrites them as root). The module
# writes its state (rate limit, used codes) back into that file, so the
# state directory must be writable and persistent: modules/bastion.nix
# installs the files there from agenix and keeps that state while the seed
# is unchanged.
#
# Module paths come from the caller: NixOS passes store paths, the lab
# passes Debian's (/lib/x86_64-linux-gnu/security/...).
#   modules = { googleAuthenticator; unix; succeedIf; deny;
#               loginuid ? null; systemd ? null; env ? null;
#               limits ? null; limitsConf ? null; }
# `limits` is pam_limits, so that limits (NixOS: security.pam.loginLimits,
# written to the file `limitsConf`; Debian: /etc/security/limits.conf) hold
# for SSH sessions too, as in NixOS's own sshd stack (issue 18).
let
  h = import ../util/ipv4.nix;
  inherit (builtins)
    concatStringsSep
    filter
    isString
    map
    match
    ;

  checkStateDir =
    d:
    if isString d && match "/[A-Za-z0-9_./-]*[A-Za-z0-9_-]" d != null then
      d
    else
      throw "hearth: hearth.bastion.totp.stateDir: ${h.show d} is not an absolute path without a trailing slash";

  checkModule =
    name: p:
    if isString p && match "[A-Za-z0-9_./+-]+" p != null then
      p
    else
      throw "hearth: pam.sshdStack: modules.${name} (${h.show p}) is not a module path";

  checkUser = h.checkRule "hearth.bastion.users" "userName";

  sshdStack =
    { cfg, modules }:
    let
      m =
        name:
        if modules ? ${name} then
          checkModule name modules.${name}
        else
          throw "hearth: pam.sshdStack: modules.${name} is missing (a PAM module path for this system)";
      opt = name: if (modules.${name} or null) == null then null else m name;
      noTotp = map (u: checkUser u.name) (filter (u: !u.totp) cfg.users);
      stateDir = checkStateDir cfg.totp.stateDir;
    in
    concatStringsSep "\n" (
      [
        "# hearth: sshd PAM stack (modules/lib/bastion/pam.nix). sshd checked the public key;"
        "# PAM asks for the TOTP code and nothing else."
        ""
        "account required ${m "unix"}"
        ""
      ]
      ++ (
        if noTotp == [ ] then
          [ ]
        else
          [ "auth [success=done default=ignore] ${m "succeedIf"} quiet user in ${concatStringsSep ":" noTotp}" ]
      )
      ++ [
        "auth required ${m "googleAuthenticator"} secret=${stateDir}/\${USER} user=root"
        ""
        "password required ${m "deny"}"
        ""
      ]
      ++ (if opt "env" == null then [ ] else [ "session required ${opt "env"} conffile=/etc/pam/environment readenv=0" ])
      ++ [ "session required ${m "unix"}" ]
      ++ (if opt "loginuid" == null then [ ] else [ "session required ${opt "loginuid"}" ])
      ++ (if opt "systemd" == null then [ ] else [ "session optional ${opt "systemd"}" ])
      ++ (
        if opt "limits" == null then
          [ ]
        else
          [
            "session required ${opt "limits"}${
              if opt "limitsConf" == null then "" else " conf=${opt "limitsConf"}"
            }"
          ]
      )
    )
    + "\n";

  # The lines after the seed in a .google_authenticator file.
  totpHeader =
    cfg:
    let
      t = cfg.totp;
    in
    concatStringsSep "\n" [
      "\" RATE_LIMIT ${toString (h.checkInt "hearth.bastion.totp.rateLimit.attempts" 1 10 t.rateLimit.attempts)} ${toString (h.checkInt "hearth.bastion.totp.rateLimit.seconds" 15 600 t.rateLimit.seconds)}"
      "\" WINDOW_SIZE ${toString (h.checkInt "hearth.bastion.totp.window" 1 21 t.window)}"
      "\" DISALLOW_REUSE"
      "\" TOTP_AUTH"
    ]
    + "\n";
in
{
  inherit sshdStack totpHeader;
}
