# Stub declarations of exactly the NixOS (and agenix) options hearth's
# modules set or read, with the names and types of the real declarations, so
# checks/eval can run hearth's modules under lib.evalModules without all of
# nixpkgs. Submodules are not freeform unless the real one is: setting an
# option nixpkgs does not have fails here too.
#
# Copied from (stored copies; 26.05 not available offline, see each note):
#   nixos/modules/services/networking/wireguard.nix   (2025, after 25.05)
#   nixos/modules/services/networking/nftables.nix    (2023+ `tables`)
#   nixos/modules/services/networking/firewall.nix
#   nixos/modules/services/networking/ssh/sshd.nix     (2025, RFC 42 settings)
#   nixos/modules/security/pam.nix                     (2025, rules + text)
#   nixos/modules/config/sysctl.nix, config/users-groups.nix,
#   system/etc/etc.nix, system/boot/systemd.nix, misc/assertions.nix
#   ryantm/agenix modules/age.nix at b027ee29 (the pinned rev)
#   nixos/modules/services/networking/ddclient.nix    (stored copy 013635633ffe, 2025)
#   nixos/modules/tasks/network-interfaces.nix        (networking.hostName)
#   zhaofengli/colmena src/nix/hive/options.nix at 5e0fbc4d (0.5.0-pre, the
#     pinned rev): `deployment.*`, which colmena adds to every node's modules
#   storage/notify (stored copies, see modules/storage.nix):
#   nixos/modules/services/backup/sanoid.nix          (2025: settings attrsOf
#     datasetSettingsType, interval str, enable)
#   nixos/modules/services/backup/syncoid.nix         (03a362fe, 2023)
#   nixos/modules/tasks/filesystems/zfs.nix           (a623be9d: extraPools,
#     package, autoScrub, zed)
#   nixos/modules/tasks/network-interfaces.nix        (networking.hostId)
#   nixos/modules/tasks/filesystems.nix               (supportedFilesystems,
#     attrsOf bool since 24.05; a list is coerced)
#   nixos/lib/systemd-unit-options.nix                (onFailure, scriptArgs, postStart)
#   nixos/modules/services/monitoring/alloy.nix         (2025, with environmentFile)
#   nixos/modules/services/monitoring/loki.nix          (2024-2025)
#   nixos/modules/services/networking/firewall-nftables.nix (extraInputRules)
#   nixos/modules/services/networking/firewall-iptables.nix (extraCommands)
#   (no services.promtail: nixpkgs PR 505055 removed it before 26.05)
#   nixos/modules/services/networking/unbound.nix (2024/2025: settings,
#     resolveLocalQueries; the ingress's resolver on the gateway)
#   nixos/modules/services/web-servers/caddy/default.nix (stored copy at
#     0145c6da, read 2026-11-28: configFile, adapter, user, group,
#     environmentFile)
#   nixos/modules/services/web-servers/traefik.nix (the staticConfigOptions /
#     dynamicConfigOptions layout, jsonValue; the early-2026 refactor was
#     reverted to it)
#   nixos/modules/security/acme/default.nix (2025 rework: acme-<cert> and
#     acme-order-renew-<cert> units, environmentFile (credentialsFile
#     renamed), credentialFiles, no preliminarySelfsigned)
{
  lib,
  pkgs,
  config,
  ...
}:
let
  inherit (lib) mkOption types;
  parentConfig = config;

  # pkgs.formats.keyValue's atom (nixos/modules/services/networking/ssh/sshd.nix
  # uses it as the freeformType of services.openssh.settings).
  keyValueAtom = types.nullOr (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
    ]
  );

  # nixos/modules/config/sysctl.nix: sysctlOption (bool, str, int or null),
  # merged with mergeOneOption after filterOverrides: two definitions at the
  # same priority are an error even when equal (issue 18: a lenient stub let
  # that pass here and fail on a real system).
  sysctlValue = lib.mkOptionType {
    name = "sysctl option value";
    check =
      val:
      let
        checkType = x: builtins.isBool x || builtins.isString x || builtins.isInt x || x == null;
      in
      checkType val || (val._type or "" == "override" && checkType val.content);
    merge = loc: defs: lib.mergeOneOption loc (lib.filterOverrides defs);
  };

  wgPeer =
    { config, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = builtins.replaceStrings [ "/" "-" " " "+" "=" ] [
            "-"
            "\\x2d"
            "\\x20"
            "\\x2b"
            "\\x3d"
          ] config.publicKey;
        };
        publicKey = mkOption { type = types.singleLineStr; };
        presharedKey = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        presharedKeyFile = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        allowedIPs = mkOption { type = types.listOf types.str; };
        endpoint = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        dynamicEndpointRefreshSeconds = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
        persistentKeepalive = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
      };
    };

  wgInterface = {
    options = {
      type = mkOption {
        type = types.enum [
          "wireguard"
          "amneziawg"
        ];
        default = "wireguard";
      };
      ips = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      privateKey = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      privateKeyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      generatePrivateKeyFile = mkOption {
        type = types.bool;
        default = false;
      };
      listenPort = mkOption {
        type = types.nullOr types.int;
        default = null;
      };
      mtu = mkOption {
        type = types.nullOr types.int;
        default = null;
      };
      table = mkOption {
        type = types.str;
        default = "main";
      };
      allowedIPsAsRoutes = mkOption {
        type = types.bool;
        default = true;
      };
      peers = mkOption {
        type = types.listOf (types.submodule wgPeer);
        default = [ ];
      };
    };
  };

  nftTable =
    { name, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
        };
        name = mkOption { type = types.str; };
        content = mkOption { type = types.lines; };
        family = mkOption {
          type = types.enum [
            "ip"
            "ip6"
            "inet"
            "arp"
            "bridge"
            "netdev"
          ];
        };
      };
      config.name = lib.mkDefault name;
    };

  sshdSettings = {
    freeformType = types.attrsOf keyValueAtom;
    options = {
      AuthorizedPrincipalsFile = mkOption {
        type = types.nullOr types.str;
        default = "none";
      };
      LogLevel = mkOption {
        type = types.nullOr (
          types.enum [
            "QUIET"
            "FATAL"
            "ERROR"
            "INFO"
            "VERBOSE"
            "DEBUG"
            "DEBUG1"
            "DEBUG2"
            "DEBUG3"
          ]
        );
        default = "INFO";
      };
      UsePAM = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      UseDns = mkOption {
        type = types.nullOr types.bool;
        default = false;
      };
      X11Forwarding = mkOption {
        type = types.nullOr types.bool;
        default = false;
      };
      PasswordAuthentication = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      PermitRootLogin = mkOption {
        type = types.nullOr (
          types.enum [
            "yes"
            "without-password"
            "prohibit-password"
            "forced-commands-only"
            "no"
          ]
        );
        default = "prohibit-password";
      };
      KbdInteractiveAuthentication = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      GatewayPorts = mkOption {
        type = types.nullOr types.str;
        default = "no";
      };
      StrictModes = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      AllowUsers = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      DenyUsers = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      AllowGroups = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      DenyGroups = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      PrintMotd = mkOption {
        type = types.nullOr types.bool;
        default = false;
      };
    };
  };

  # nixos/modules/security/pam.nix: limitsType, the entries of
  # security.pam.loginLimits and of each service's `limits`.
  limitsType = types.listOf (
    types.submodule {
      options = {
        domain = mkOption { type = types.str; };
        type = mkOption {
          type = types.enum [
            "-"
            "hard"
            "soft"
          ];
        };
        item = mkOption {
          type = types.enum [
            "core"
            "data"
            "fsize"
            "memlock"
            "nofile"
            "rss"
            "stack"
            "cpu"
            "nproc"
            "as"
            "maxlogins"
            "maxsyslogins"
            "priority"
            "locks"
            "sigpending"
            "msgqueue"
            "nice"
            "rtprio"
          ];
        };
        value = mkOption {
          type = types.oneOf [
            types.str
            types.int
          ];
        };
      };
    }
  );

  pamService =
    { name, ... }:
    {
      options = {
        name = mkOption { type = types.str; };
        unixAuth = mkOption {
          type = types.bool;
          default = true;
        };
        startSession = mkOption {
          type = types.bool;
          default = false;
        };
        text = mkOption { type = types.nullOr types.lines; };
        # pam.nix: `limits` (limitsType), default security.pam.loginLimits
        # (pam.nix sets it in the service's config with mkDefault).
        limits = mkOption {
          type = limitsType;
          default = [ ];
        };
      };
      # pam.nix renders its rules into `text` with mkDefault.
      config = {
        limits = lib.mkDefault parentConfig.security.pam.loginLimits;
        name = lib.mkDefault name;
        text = lib.mkDefault "# nixpkgs' own ${name} stack (rules)\n";
      };
    };

  user =
    { name, ... }:
    {
      options = {
        name = mkOption { type = types.str; };
        isNormalUser = mkOption {
          type = types.bool;
          default = false;
        };
        isSystemUser = mkOption {
          type = types.bool;
          default = false;
        };
        group = mkOption {
          type = types.str;
          default = "";
        };
        shell = mkOption {
          type = types.nullOr (types.either types.package types.path);
          default = null;
        };
        extraGroups = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        openssh.authorizedKeys = {
          keys = mkOption {
            type = types.listOf types.singleLineStr;
            default = [ ];
          };
          keyFiles = mkOption {
            type = types.listOf types.path;
            default = [ ];
          };
        };
      };
      config.name = lib.mkDefault name;
    };

  etcFile =
    { name, ... }:
    {
      options = {
        target = mkOption {
          type = types.str;
          default = name;
        };
        text = mkOption {
          type = types.nullOr types.lines;
          default = null;
        };
        source = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        mode = mkOption {
          type = types.str;
          default = "symlink";
        };
      };
    };

  # systemd.services.<name>: the unit options hearth uses
  # (nixos/lib/systemd-unit-options.nix).
  unitOption = types.oneOf [
    types.bool
    types.int
    types.str
    types.path
    (types.listOf types.str)
  ];
  service = {
    options = {
      description = mkOption {
        type = types.singleLineStr;
        default = "";
      };
      wantedBy = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      requiredBy = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      before = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      after = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      wants = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      requires = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      path = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
      };
      serviceConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      unitConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
      };
      scriptArgs = mkOption {
        type = types.str;
        default = "";
      };
      postStart = mkOption {
        type = types.lines;
        default = "";
      };
      onFailure = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
    };
  };

  # traefik.nix: jsonValue.
  jsonValue =
    let
      valueType =
        types.nullOr (
          types.oneOf [
            types.bool
            types.int
            types.float
            types.str
            (types.lazyAttrsOf valueType)
            (types.listOf valueType)
          ]
        )
        // {
          description = "JSON value";
          emptyValue.value = { };
        };
    in
    valueType;

  # security/acme/default.nix: certOpts + inheritableModule (the options hearth sets or reads).
  acmeCert =
    { name, ... }:
    {
      options = {
        directory = mkOption {
          type = types.str;
          readOnly = true;
          default = "/var/lib/acme/${name}";
        };
        domain = mkOption {
          type = types.str;
          default = name;
        };
        extraDomainNames = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        server = mkOption {
          type = types.nullOr types.str;
          default = "https://acme-v02.api.letsencrypt.org/directory";
        };
        email = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        group = mkOption {
          type = types.str;
          default = "acme";
        };
        reloadServices = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        dnsProvider = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        dnsPropagationCheck = mkOption {
          type = types.bool;
          default = true;
        };
        environmentFile = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        credentialFiles = mkOption {
          type = types.attrsOf types.path;
          default = { };
        };
      };
    };

  # sanoid.nix: datasetSettingsType.
  sanoidSettings = types.attrsOf (
    types.nullOr (
      types.oneOf [
        types.str
        types.int
        types.bool
        (types.listOf types.str)
      ]
    )
  );

  # syncoid.nix: commands.<name> (the options hearth sets).
  syncoidCommand =
    { name, ... }:
    {
      options = {
        source = mkOption {
          type = types.str;
          default = name;
        };
        target = mkOption { type = types.str; };
        recursive = mkOption {
          type = types.bool;
          default = false;
        };
        extraArgs = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        service = mkOption {
          type = types.attrs;
          default = { };
        };
      };
    };

  # backup area: systemd.timers.<name> (the options hearth sets).
  timer = {
    options = {
      wantedBy = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      timerConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
    };
  };

  # backup area: nixos/modules/services/backup/restic.nix, the stored copy
  # with `command`, `runCheck`, `fileBackupContract` (2025 layout; per-backup
  # options at top level). Only the options hearth sets.
  resticBackup = {
    options = {
      passwordFile = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      environmentFile = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      repository = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      paths = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = [ ];
      };
      timerConfig = mkOption {
        type = types.nullOr (types.attrsOf unitOption);
        default = {
          OnCalendar = "daily";
          Persistent = true;
        };
      };
      extraBackupArgs = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      initialize = mkOption {
        type = types.bool;
        default = false;
      };
      pruneOpts = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      runCheck = mkOption {
        type = types.bool;
        default = false;
      };
      checkOpts = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      backupPrepareCommand = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      backupCleanupCommand = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
    };
  };

  # agenix modules/age.nix (b027ee29): secretType.
  ageSecret =
    { config, name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
        };
        file = mkOption { type = types.path; };
        path = mkOption {
          type = types.str;
          default = "/run/agenix/${config.name}";
        };
        mode = mkOption {
          type = types.str;
          default = "0400";
        };
        owner = mkOption {
          type = types.str;
          default = "0";
        };
        group = mkOption {
          type = types.str;
          default = "0";
        };
        symlink = mkOption {
          type = types.bool;
          default = true;
        };
      };
    };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };

    boot.isContainer = mkOption {
      type = types.bool;
      default = false;
    };
    boot.kernel.sysctl = mkOption {
      type = types.submodule { freeformType = types.attrsOf sysctlValue; };
      default = { };
    };

    networking.wireguard.enable = mkOption {
      type = types.bool;
      default = false;
    };
    networking.wireguard.interfaces = mkOption {
      type = types.attrsOf (types.submodule wgInterface);
      default = { };
    };

    networking.nftables.enable = mkOption {
      type = types.bool;
      default = false;
    };
    networking.nftables.checkRuleset = mkOption {
      type = types.bool;
      default = true;
    };
    networking.nftables.ruleset = mkOption {
      type = types.lines;
      default = "";
    };
    networking.nftables.tables = mkOption {
      type = types.attrsOf (types.submodule nftTable);
      default = { };
    };

    networking.firewall.enable = mkOption {
      type = types.bool;
      default = true;
    };
    # nixos/modules/services/networking/firewall-iptables.nix (lines, "").
    networking.firewall.extraCommands = mkOption {
      type = types.lines;
      default = "";
    };
    networking.firewall.extraStopCommands = mkOption {
      type = types.lines;
      default = "";
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
    networking.firewall.allowedUDPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };

    # firewall-nftables.nix / firewall-iptables.nix.
    networking.firewall.extraInputRules = mkOption {
      type = types.lines;
      default = "";
    };

    # nixos/modules/services/monitoring/alloy.nix.
    services.alloy.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.alloy.configPath = mkOption {
      type = types.path;
      default = "/etc/alloy";
    };

    # nixos/modules/services/monitoring/loki.nix; configuration is
    # (pkgs.formats.json { }).type, i.e. any JSON value.
    services.loki.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.loki.dataDir = mkOption {
      type = types.path;
      default = "/var/lib/loki";
    };
    services.loki.configuration = mkOption {
      type = types.attrsOf types.anything;
      default = { };
    };

    services.openssh.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.openssh.ports = mkOption {
      type = types.listOf types.port;
      default = [ 22 ];
    };
    services.openssh.openFirewall = mkOption {
      type = types.bool;
      default = true;
    };
    services.openssh.settings = mkOption {
      type = types.submodule sshdSettings;
      default = { };
    };

    security.pam.package = mkOption {
      type = types.package;
    };
    # nixos/modules/security/sudo.nix: extraRules.
    security.sudo.extraRules = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            users = mkOption {
              type = types.listOf (types.either types.str types.int);
              default = [ ];
            };
            groups = mkOption {
              type = types.listOf (types.either types.str types.int);
              default = [ ];
            };
            host = mkOption {
              type = types.str;
              default = "ALL";
            };
            runAs = mkOption {
              type = types.str;
              default = "ALL:ALL";
            };
            commands = mkOption {
              type = types.listOf (
                types.either types.str (
                  types.submodule {
                    options = {
                      command = mkOption { type = types.str; };
                      options = mkOption {
                        type = types.listOf (
                          types.enum [
                            "NOPASSWD"
                            "PASSWD"
                            "NOEXEC"
                            "EXEC"
                            "SETENV"
                            "NOSETENV"
                            "LOG_INPUT"
                            "NOLOG_INPUT"
                            "LOG_OUTPUT"
                            "NOLOG_OUTPUT"
                            "MAIL"
                            "NOMAIL"
                            "FOLLOW"
                            "NOFLLOW"
                            "INTERCEPT"
                            "NOINTERCEPT"
                          ]
                        );
                        default = [ ];
                      };
                    };
                  }
                )
              );
            };
          };
        }
      );
      default = [ ];
    };
    # nixos/modules/config/nix.nix: settings (freeform nix.conf), typed trusted-users.
    nix.settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.anything;
        options.trusted-users = mkOption {
          type = types.listOf types.str;
          default = [ "root" ];
        };
      };
      default = { };
    };
    security.pam.loginLimits = mkOption {
      type = limitsType;
      default = [ ];
    };
    security.pam.services = mkOption {
      type = types.attrsOf (types.submodule pamService);
      default = { };
    };

    users.users = mkOption {
      type = types.attrsOf (types.submodule user);
      default = { };
    };

    environment.etc = mkOption {
      type = types.attrsOf (types.submodule etcFile);
      default = { };
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    systemd.package = mkOption { type = types.package; };
    # backup area
    systemd.timers = mkOption {
      type = types.attrsOf (types.submodule timer);
      default = { };
    };
    systemd.tmpfiles.rules = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    services.restic.backups = mkOption {
      type = types.attrsOf (types.submodule resticBackup);
      default = { };
    };
    systemd.services = mkOption {
      type = types.attrsOf (types.submodule service);
      default = { };
    };

    # nixos/modules/services/networking/unbound.nix (stored copy with
    # settings.server.define-tag and `lib.` prefixes, 2024/2025; the
    # RFC 42 `settings` layout since 21.05): enable, resolveLocalQueries,
    # settings = submodule { freeformType = ...; remote-control.control-enable }.
    services.unbound.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.unbound.resolveLocalQueries = mkOption {
      type = types.bool;
      default = true;
    };
    services.unbound.settings = mkOption {
      default = { };
      type = types.submodule {
        freeformType =
          let
            validSettingsPrimitiveTypes = types.oneOf [
              types.int
              types.str
              types.bool
              types.float
            ];
            validSettingsTypes = types.oneOf [
              validSettingsPrimitiveTypes
              (types.listOf validSettingsPrimitiveTypes)
            ];
            settingsType = types.oneOf [
              types.str
              (types.attrsOf validSettingsTypes)
            ];
          in
          types.attrsOf (
            types.oneOf [
              settingsType
              (types.listOf settingsType)
            ]
          );
        options.remote-control.control-enable = mkOption {
          type = types.bool;
          default = false;
          internal = true;
        };
      };
    };

    services.caddy.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.caddy.user = mkOption {
      type = types.str;
      default = "caddy";
    };
    services.caddy.group = mkOption {
      type = types.str;
      default = "caddy";
    };
    services.caddy.configFile = mkOption {
      type = types.path;
    };
    # Real default: "caddyfile" once configFile is set (0145c6da).
    services.caddy.adapter = mkOption {
      type = types.nullOr types.str;
      default = "caddyfile";
    };
    services.traefik.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.traefik.group = mkOption {
      type = types.str;
      default = "traefik";
    };
    services.traefik.staticConfigOptions = mkOption {
      type = jsonValue;
      default = {
        entryPoints.http.address = ":80";
      };
    };
    services.traefik.dynamicConfigOptions = mkOption {
      type = jsonValue;
      default = { };
    };
    security.acme.acceptTerms = mkOption {
      type = types.bool;
      default = false;
    };
    security.acme.certs = mkOption {
      type = types.attrsOf (types.submodule acmeCert);
      default = { };
    };

    users.groups = mkOption {
      type = types.attrsOf (types.submodule { });
      default = { };
    };

    networking.hostId = mkOption {
      type = types.nullOr types.str;
      default = null;
    };
    boot.supportedFilesystems = mkOption {
      type = types.attrsOf types.bool;
      default = { };
    };
    boot.zfs.extraPools = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    boot.zfs.package = mkOption { type = types.package; };
    services.zfs.autoScrub.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.zfs.autoScrub.interval = mkOption {
      type = types.str;
      default = "monthly";
    };
    services.zfs.autoScrub.pools = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    services.zfs.zed.enableMail = mkOption {
      type = types.bool;
      default = false;
    };
    services.zfs.zed.settings = mkOption {
      type = types.attrsOf (
        types.oneOf [
          types.str
          types.int
          types.bool
          (types.listOf types.str)
        ]
      );
      default = { };
    };
    services.sanoid.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.sanoid.interval = mkOption {
      type = types.str;
      default = "hourly";
    };
    services.sanoid.settings = mkOption { type = types.attrsOf sanoidSettings; };
    services.syncoid.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.syncoid.sshKey = mkOption {
      type = types.nullOr types.path;
      default = null;
    };
    services.syncoid.commands = mkOption {
      type = types.attrsOf (types.submodule syncoidCommand);
      default = { };
    };

    networking.hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
    };

    services.ddclient = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      domains = mkOption {
        type = types.listOf types.str;
        default = [ "" ];
      };
      username = mkOption {
        type = types.str;
        default = "";
      };
      passwordFile = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      interval = mkOption {
        type = types.str;
        default = "10min";
      };
      configFile = mkOption {
        type = types.nullOr types.path;
        default = null;
      };
      protocol = mkOption {
        type = types.str;
        default = "dyndns2";
      };
      server = mkOption {
        type = types.str;
        default = "";
      };
      ssl = mkOption {
        type = types.bool;
        default = true;
      };
      quiet = mkOption {
        type = types.bool;
        default = false;
      };
      script = mkOption {
        type = types.str;
        default = "";
      };
      use = mkOption {
        type = types.str;
        default = "";
      };
      usev4 = mkOption {
        type = types.str;
        default = "webv4, webv4=ipify-ipv4";
      };
      usev6 = mkOption {
        type = types.str;
        default = "webv6, webv6=ipify-ipv6";
      };
      verbose = mkOption {
        type = types.bool;
        default = false;
      };
      zone = mkOption {
        type = types.str;
        default = "";
      };
      extraConfig = mkOption {
        type = types.lines;
        default = "";
      };
    };

    deployment = {
      targetHost = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      targetPort = mkOption {
        type = types.nullOr types.ints.unsigned;
        default = null;
      };
      targetUser = mkOption {
        type = types.nullOr types.str;
        default = "root";
      };
      allowLocalDeployment = mkOption {
        type = types.bool;
        default = false;
      };
      buildOnTarget = mkOption {
        type = types.bool;
        default = false;
      };
      tags = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      replaceUnknownProfiles = mkOption {
        type = types.bool;
        default = true;
      };
      privilegeEscalationCommand = mkOption {
        type = types.listOf types.str;
        default = [
          "sudo"
          "-H"
          "--"
        ];
      };
      sshOptions = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
    };

    # nixos/modules/system/activation/activation-script.nix: scriptType.
    system.activationScripts = mkOption {
      type = types.attrsOf (
        types.either types.str (
          types.submodule {
            options = {
              deps = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              text = mkOption { type = types.lines; };
              supportsDryActivation = mkOption {
                type = types.bool;
                default = false;
              };
            };
          }
        )
      );
      default = { };
    };
    # nixos/modules/system/boot/systemd/sysusers.nix, services/system/userborn.nix.
    systemd.sysusers.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.userborn.enable = mkOption {
      type = types.bool;
      default = false;
    };
    age.identityPaths = mkOption {
      type = types.listOf types.path;
      default = [ ];
    };

    age.secretsDir = mkOption {
      type = types.path;
      default = "/run/agenix";
    };
    age.secrets = mkOption {
      type = types.attrsOf (types.submodule ageSecret);
      default = { };
    };
  };

  config = {
    security.pam.package = lib.mkDefault pkgs.pam;
    systemd.package = lib.mkDefault pkgs.systemd;
    boot.zfs.package = lib.mkDefault pkgs.zfs;
  };
}
