# Renderer tests for modules/lib/bastion/pam.nix.
let
  lib = import ../../modules/lib;
  fx = import ./fixtures.nix;
  b = fx.minimalGateway.bastion;
  debian = {
    googleAuthenticator = "/lib/x86_64-linux-gnu/security/pam_google_authenticator.so";
    unix = "/lib/x86_64-linux-gnu/security/pam_unix.so";
    succeedIf = "/lib/x86_64-linux-gnu/security/pam_succeed_if.so";
    deny = "/lib/x86_64-linux-gnu/security/pam_deny.so";
    limits = "/lib/x86_64-linux-gnu/security/pam_limits.so";
  };
  nixos = {
    googleAuthenticator = "/nix/store/00000000000000000000000000000000-google-authenticator/lib/security/pam_google_authenticator.so";
    unix = "/nix/store/00000000000000000000000000000000-pam/lib/security/pam_unix.so";
    succeedIf = "/nix/store/00000000000000000000000000000000-pam/lib/security/pam_succeed_if.so";
    deny = "/nix/store/00000000000000000000000000000000-pam/lib/security/pam_deny.so";
    env = "/nix/store/00000000000000000000000000000000-pam/lib/security/pam_env.so";
    loginuid = "/nix/store/00000000000000000000000000000000-pam/lib/security/pam_loginuid.so";
    systemd = "/nix/store/00000000000000000000000000000000-systemd/lib/security/pam_systemd.so";
    limits = "/nix/store/00000000000000000000000000000000-pam/lib/security/pam_limits.so";
    limitsConf = "/nix/store/00000000000000000000000000000000-limits.conf";
  };
  stack = cfg: modules: lib.bastion.sshdStack { inherit cfg modules; };
  lines = s: builtins.filter (l: builtins.isString l && l != "" && builtins.substring 0 1 l != "#") (builtins.split "\n" s);
in
[
  {
    name = "example bastion, Debian modules: key + code, nothing else";
    expr = stack b debian;
    expected = ''
      # hearth: sshd PAM stack (modules/lib/bastion/pam.nix). sshd checked the public key;
      # PAM asks for the TOTP code and nothing else.

      account required /lib/x86_64-linux-gnu/security/pam_unix.so

      auth required /lib/x86_64-linux-gnu/security/pam_google_authenticator.so secret=/var/lib/hearth/totp/''${USER} user=root

      password required /lib/x86_64-linux-gnu/security/pam_deny.so

      session required /lib/x86_64-linux-gnu/security/pam_unix.so
      session required /lib/x86_64-linux-gnu/security/pam_limits.so
    '';
  }
  {
    name = "NixOS modules with session extras and a user without TOTP";
    expr = lines (stack (b // { users = b.users ++ [ { name = "svc"; sshKeys = [ ]; totp = false; totpSecret = null; } { name = "bob"; sshKeys = [ ]; totp = false; totpSecret = null; } ]; }) nixos);
    expected = [
      "account required ${nixos.unix}"
      "auth [success=done default=ignore] ${nixos.succeedIf} quiet user in svc:bob"
      "auth required ${nixos.googleAuthenticator} secret=/var/lib/hearth/totp/\${USER} user=root"
      "password required ${nixos.deny}"
      "session required ${nixos.env} conffile=/etc/pam/environment readenv=0"
      "session required ${nixos.unix}"
      "session required ${nixos.loginuid}"
      "session optional ${nixos.systemd}"
      "session required ${nixos.limits} conf=${nixos.limitsConf}"
    ];
  }
  {
    name = "no pam_limits module given, no limits line";
    expr = builtins.filter (l: builtins.match ".*pam_limits.*" l != null) (lines (stack b (removeAttrs debian [ "limits" ])));
    expected = [ ];
  }
  {
    name = "the only auth modules are google_authenticator (and succeed_if): no pam_unix auth, no nullok";
    expr = builtins.filter (l: builtins.match "auth .*(pam_unix|nullok|pam_permit).*" l != null) (lines (stack b nixos));
    expected = [ ];
  }
  {
    name = "TOTP file header";
    expr = lib.bastion.totpHeader b;
    expected = ''
      " RATE_LIMIT 3 30
      " WINDOW_SIZE 3
      " DISALLOW_REUSE
      " TOTP_AUTH
    '';
  }
  {
    name = "TOTP header follows the options";
    expr = lib.bastion.totpHeader (b // { totp = { window = 5; rateLimit = { attempts = 2; seconds = 60; }; stateDir = "/x"; }; });
    expected = "\" RATE_LIMIT 2 60\n\" WINDOW_SIZE 5\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n";
  }
  { name = "state dir with a space (would split the PAM arguments)"; throws = stack (b // { totp = b.totp // { stateDir = "/var/lib/x y"; }; }) debian; message = "is not an absolute path"; }
  { name = "relative state dir"; throws = stack (b // { totp = b.totp // { stateDir = "var/lib/x"; }; }) debian; }
  { name = "module path with a newline"; throws = stack b (debian // { unix = "pam_unix.so\nauth sufficient pam_permit.so"; }); message = "is not a module path"; }
  { name = "limits file with a space (would split the PAM arguments)"; throws = stack b (nixos // { limitsConf = "/etc/my limits"; }); message = "is not a module path"; }
  { name = "missing module path"; throws = stack b (removeAttrs debian [ "deny" ]); }
  { name = "non-TOTP user name with a colon"; throws = stack (b // { users = [ { name = "a:root"; totp = false; } ]; }) debian; }
  { name = "window 0"; throws = lib.bastion.totpHeader (b // { totp = b.totp // { window = 0; }; }); }
  { name = "rate limit of 11 attempts"; throws = lib.bastion.totpHeader (b // { totp = b.totp // { rateLimit = { attempts = 11; seconds = 30; }; }; }); }
]
