# hearth's SSH bastion: public key plus a TOTP code, then full LAN access
# through ProxyJump. sshd settings and the PAM stack come from the pure
# renderers in ./lib/bastion/sshd.nix and ./lib/bastion/pam.nix (the lab loads the same text
# into a real sshd); this module wires them into NixOS, creates the users and
# installs the TOTP seeds from agenix into a persistent state directory.
#
# Logging: sshd runs at LogLevel VERBOSE, so the journal (SYSLOG_IDENTIFIER
# sshd) carries the key fingerprint of every accepted or refused key, and
# pam_google_authenticator logs "Accepted google_authenticator for <user>" /
# "Invalid verification code for <user>" there too; hearth-totp.service logs
# what it did with each seed (never the seed).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.hearth.bastion;
  sshd = import ./lib/bastion/sshd.nix;
  inherit (import ./lib/util/ipv4.nix) rules;
  pam = import ./lib/bastion/pam.nix;

  totpUsers = lib.filter (u: u.totp) cfg.users;
  deployUsers = map (u: u.name) (lib.filter (u: u.deploy) cfg.users);
  caEtcName = lib.removePrefix "/etc/" cfg.userCA.keyFile;

  pamPackage = config.security.pam.package;
  pamModules = {
    googleAuthenticator = "${pkgs.google-authenticator}/lib/security/pam_google_authenticator.so";
    unix = "${pamPackage}/lib/security/pam_unix.so";
    succeedIf = "${pamPackage}/lib/security/pam_succeed_if.so";
    deny = "${pamPackage}/lib/security/pam_deny.so";
    env = "${pamPackage}/lib/security/pam_env.so";
    loginuid = if config.boot.isContainer then null else "${pamPackage}/lib/security/pam_loginuid.so";
    systemd = "${config.systemd.package}/lib/security/pam_systemd.so";
    # As nixpkgs' own sshd stack does (security/pam.nix, the "limits" session
    # rule: `session required pam_limits.so conf=<limits.conf>` when the
    # service's `limits`, default security.pam.loginLimits, is non-empty).
    limits = if sshdLimits == [ ] then null else "${pamPackage}/lib/security/pam_limits.so";
    limitsConf = if sshdLimits == [ ] then null else "${limitsConf}";
  };

  # The sshd service's limits (default: security.pam.loginLimits), written
  # like nixpkgs' makeLimitsConf (limits.conf(5): domain type item value).
  sshdLimits = config.security.pam.services.sshd.limits;
  limitsConf = pkgs.writeText "limits.conf" (
    lib.concatMapStrings (
      l: "${l.domain} ${l.type} ${l.item} ${toString l.value}\n"
    ) sshdLimits
  );

  header = pkgs.writeText "hearth-totp-header" (pam.totpHeader cfg);

  # Installs <stateDir>/<user> = seed line + header, root 0600, from the
  # decrypted agenix file (whose first line is the base32 seed). While the
  # seed is unchanged the file's state lines are kept, so codes stay
  # single-use and the rate limit holds across reboots and activations.
  installTotp = ''
    set -euo pipefail
    umask 077
    state=${lib.escapeShellArg cfg.totp.stateDir}
    header=${header}
    install -d -m 0700 -o root -g root "$state"

    install_seed() {
      local user=$1 secret=$2 dst="$state/$1" seed new
      seed=$(head -n 1 "$secret" | tr -d ' \t\r\n')
      if ! [[ $seed =~ ^[A-Z2-7]+=*$ ]]; then
        echo "hearth-totp: $user: the first line of $secret is not a base32 TOTP seed" >&2
        return 1
      fi
      # Called as `install_seed ... || status=1`, where bash ignores set -e:
      # every step checks its own status.
      new=$(mktemp "$state/.$user.XXXXXX") || return 1
      { printf '%s\n' "$seed" && cat "$header"; } >"$new" || return 1
      if [ -f "$dst" ] && [ "$(head -n 1 "$dst")" = "$seed" ]; then
        # Same seed: carry over pam_google_authenticator's state (codes
        # already used; rate-limit timestamps while the limit is the same).
        awk -v reuse="$(grep -m1 '^" DISALLOW_REUSE' "$dst" || true)" \
            -v rate="$(grep -m1 '^" RATE_LIMIT' "$dst" || true)" '
          /^" DISALLOW_REUSE/ && reuse != "" { print reuse; next }
          /^" RATE_LIMIT/ && rate != "" && (rate == $0 || index(rate, $0 " ") == 1) { print rate; next }
          { print }' "$new" >"$new.m" || return 1
        mv -f "$new.m" "$new" || return 1
        if cmp -s "$new" "$dst"; then
          rm -f "$new"
          echo "hearth-totp: $user: seed unchanged, state kept"
          return 0
        fi
        echo "hearth-totp: $user: seed unchanged, options updated, used codes kept"
      else
        echo "hearth-totp: $user: installed seed"
      fi
      chown root:root "$new" && chmod 0600 "$new" && mv -f "$new" "$dst"
    }

    # One bad secret must not keep the other users' seeds from installing.
    status=0
    ${lib.concatMapStrings (u: ''
      install_seed ${lib.escapeShellArg u.name} ${lib.escapeShellArg config.age.secrets.${u.totpSecret}.path} || status=1
    '') totpUsers}
    # Seeds of users who lost TOTP or were removed must not keep working.
    # Only files that look like seed files go, whatever the directory is.
    keep=" ${lib.concatMapStringsSep " " (u: u.name) totpUsers} "
    for f in "$state"/* "$state"/.[!.]*; do
      [ -f "$f" ] && [ ! -L "$f" ] || continue
      case $keep in *" ''${f##*/} "*) continue ;; esac
      if head -n 1 "$f" | grep -Eqx '[A-Z2-7]+=*'; then
        rm -f "$f"
        echo "hearth-totp: removed $f"
      fi
    done
    exit "$status"
  '';

  userOpts = {
    options = {
      name = lib.mkOption {
        type = lib.types.strMatching rules.userName.re;
        example = "torjus";
        description = "Login name; the module creates the user.";
      };
      sshKeys = lib.mkOption {
        type = lib.types.listOf lib.types.singleLineStr;
        default = [ ];
        example = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... torjus@laptop" ];
        description = "Public keys accepted for this user (with a user CA, certificates work too).";
      };
      totp = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = "Whether this user must also give a TOTP code.";
      };
      deploy = lib.mkOption {
        type = lib.types.bool;
        default = false;
        description = ''
          Whether this user may deploy to this host: member of `wheel`,
          sudo without a password (the login already took the key and a
          TOTP code; the user has no password to give) and a trusted Nix
          user, so `nixos-rebuild switch --target-host USER@HOST --sudo`
          can copy closures and switch. Requires {option}`totp`.
        '';
      };
      totpSecret = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "hearth-totp-torjus";
        description = ''
          Name of the {option}`age.secrets` entry whose first line is the
          user's base32 TOTP seed. The seed never enters the Nix store.
        '';
      };
    };
  };
in
{
  options.hearth.bastion = {
    enable = lib.mkEnableOption "hearth's SSH bastion (public key plus TOTP)";

    port = lib.mkOption {
      type = lib.types.port;
      default = 22;
      description = "Port sshd listens on.";
    };

    allowedSources = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [
        "10.69.222.0/24"
        "10.69.13.0/24"
      ];
      description = ''
        IPv4 networks users may log in from (`AllowUsers user@network`);
        empty allows any source. The network-level restriction is
        {option}`hearth.allowlist.ssh`.
      '';
    };

    users = lib.mkOption {
      type = lib.types.listOf (lib.types.submodule userOpts);
      default = [ ];
      description = "Users allowed to log in.";
    };

    userCA = lib.mkOption {
      type = lib.types.nullOr (
        lib.types.submodule {
          options = {
            publicKey = lib.mkOption {
              type = lib.types.singleLineStr;
              example = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... hearth-user-ca";
              description = "Public key of the SSH user CA (`hearth user sign` signs with its private key).";
            };
            keyFile = lib.mkOption {
              type = lib.types.strMatching "/etc/[A-Za-z0-9_./-]+";
              default = "/etc/ssh/hearth-user-ca.pub";
              description = "Where the module writes the CA key for `TrustedUserCAKeys`.";
            };
          };
        }
      );
      default = null;
      description = "SSH user CA whose certificates sshd accepts in place of listed keys; the TOTP code is still required.";
    };

    totp = {
      window = lib.mkOption {
        type = lib.types.ints.between 1 21;
        default = 3;
        description = "Codes accepted around the current one (`WINDOW_SIZE`).";
      };
      rateLimit = {
        attempts = lib.mkOption {
          type = lib.types.ints.between 1 10;
          default = 3;
          description = "Login attempts allowed per {option}`hearth.bastion.totp.rateLimit.seconds`.";
        };
        seconds = lib.mkOption {
          type = lib.types.ints.between 15 600;
          default = 30;
          description = "Rate-limit interval.";
        };
      };
      stateDir = lib.mkOption {
        type = lib.types.strMatching "/[A-Za-z0-9_./-]*[A-Za-z0-9_-]";
        default = "/var/lib/hearth/totp";
        description = ''
          Persistent directory of the per-user TOTP files
          (`<stateDir>/<user>`). pam_google_authenticator records used codes
          and rate-limit state in them, so it must survive reboots (not the
          agenix ramfs).
        '';
      };
    };

    maxAuthTries = lib.mkOption {
      type = lib.types.ints.between 1 100;
      default = 3;
      description = "sshd `MaxAuthTries`.";
    };

    loginGraceTime = lib.mkOption {
      type = lib.types.ints.between 1 3600;
      default = 30;
      description = "sshd `LoginGraceTime`, in seconds.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.users != [ ];
        message = "hearth.bastion.users: no users, so nobody could log in; add one with `hearth user add NAME --ssh-key KEY --totp`.";
      }
      {
        assertion = !(lib.any (u: u.name == "root") cfg.users);
        message = "hearth.bastion.users: \"root\" cannot be a bastion user (PermitRootLogin is no); use a personal account.";
      }
      {
        assertion = lib.all (u: u.deploy -> u.totp) cfg.users;
        message = "hearth.bastion.users: ${
          lib.concatMapStringsSep ", " (u: "\"${u.name}\"") (lib.filter (u: u.deploy && !u.totp) cfg.users)
        }: a deploy user gets root through sudo, so it needs totp = true.";
      }
      {
        assertion = lib.length (lib.unique (map (u: u.name) cfg.users)) == lib.length cfg.users;
        message = "hearth.bastion.users: user names must be unique.";
      }
    ]
    ++ map (u: {
      assertion = u.totpSecret != null && config.age.secrets ? ${u.totpSecret};
      message = "hearth.bastion.users (\"${u.name}\").totpSecret: ${
        if u.totpSecret == null then "not set" else "age.secrets.\"${u.totpSecret}\" is not defined"
      }; a TOTP user needs a seed: run `hearth render`, or set totp = false.";
    }) totpUsers;

    # services.openssh.settings is an RFC 42 submodule: typed
    # PasswordAuthentication, KbdInteractiveAuthentication, PermitRootLogin,
    # AllowUsers (nullOr (listOf str)), X11Forwarding, UsePAM, LogLevel,
    # freeform int/str/bool for the rest. nixpkgs
    # nixos/modules/services/networking/ssh/sshd.nix (2025, post-25.05),
    # which also runs `sshd -G -T` on the result (system.checks).
    # PerSourcePenalties (OpenSSH >= 9.8, so nixpkgs 26.05) stays at
    # OpenSSH's default: a source address with repeated failed
    # authentications (authfail:5 s each, blocked once past min:15 s) is
    # refused before PAM for a while. It complements the TOTP rate limit and
    # the allowlist's per-source connection limit; a user who mistypes a
    # code three times waits about 15 s. Sources are VPN or LAN addresses,
    # one per device, so one device's failures do not lock out another.
    # checks/vm/bastion.nix proves it is on.
    services.openssh = {
      enable = true;
      ports = [ cfg.port ];
      settings = sshd.settings cfg;
    };

    environment.etc = lib.mkIf (cfg.userCA != null) {
      ${caEtcName} = {
        text = lib.removeSuffix "\n" cfg.userCA.publicKey + "\n";
        mode = "0444";
      };
    };

    users.users = lib.listToAttrs (
      map (u: {
        inherit (u) name;
        value = {
          isNormalUser = true;
          openssh.authorizedKeys.keys = u.sshKeys;
          extraGroups = lib.optional u.deploy "wheel";
        };
      }) cfg.users
    );

    # The deploy path (issue 18): root logins stay off (PermitRootLogin no,
    # AllowUsers only bastion users); a deploy user logs in with key + code
    # and becomes root through sudo. `hearth ssh-config` multiplexes the
    # connections, so one code covers a whole `nixos-rebuild`.
    # security.sudo.extraRules: listOf submodule { users; commands; ... }
    # (nixpkgs nixos/modules/security/sudo.nix, 2025); nix.settings is the
    # freeform nix.conf submodule with typed trusted-users (listOf str;
    # nixos/modules/config/nix.nix, 2025).
    security.sudo.extraRules = lib.mkIf (deployUsers != [ ]) [
      {
        users = deployUsers;
        commands = [
          {
            command = "ALL";
            options = [ "NOPASSWD" ];
          }
        ];
      }
    ];
    # A definition replaces trusted-users' default [ "root" ]: keep root.
    nix.settings.trusted-users = lib.mkIf (deployUsers != [ ]) ([ "root" ] ++ deployUsers);

    # security.pam.services.<name>.text is nullOr lines, set by pam.nix with
    # mkDefault from its rules; mkForce replaces the whole stack (nixpkgs
    # nixos/modules/security/pam.nix, 2024-2025 rules-based version). This
    # sidesteps googleAuthenticator.enable (issue 115044) entirely.
    security.pam.services.sshd.text = lib.mkForce (
      pam.sshdStack {
        inherit cfg;
        modules = pamModules;
      }
    );

    systemd.services.hearth-totp = lib.mkIf (totpUsers != [ ]) {
      description = "hearth: install TOTP seeds for the SSH bastion";
      wantedBy = [ "multi-user.target" ];
      before = [ "sshd.service" ];
      # agenix decrypts in activation, or in this unit when sysusers is used.
      after = [ "agenix-install-secrets.service" ];
      # Re-run when a seed's ciphertext or the options change.
      restartTriggers = [ header ] ++ map (u: config.age.secrets.${u.totpSecret}.file) totpUsers;
      path = [
        pkgs.coreutils
        pkgs.gawk
        pkgs.gnugrep
        pkgs.diffutils
      ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        UMask = "0077";
      };
      script = installTotp;
    };
  };
}
