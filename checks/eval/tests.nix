# Module evaluation tests: hearth's NixOS modules under nixpkgs'
# lib.evalModules, against ./stubs.nix (the real option names and types of
# everything hearth sets). Asserts on the resulting NixOS option values and
# on the assertions/warnings the modules raise. Run by ./run; the list format
# is checks/nix-unit/harness.nix's.
{
  lib,
  # Root of the repository whose hosts/*/hearth.nix are evaluated too.
  repo ? ../..,
}:
let
  fx = import ../nix-unit/fixtures.nix;
  render = import ../../modules/lib;
  pkgs = import ./pkgs.nix;

  eval =
    modules:
    (lib.evalModules {
      modules = [
        ./stubs.nix
        ../../modules
        { _module.args.pkgs = pkgs; }
        # What the flake's nixosModules.default sets.
        { hearth.kvm.package = lib.mkDefault pkgs.hearth; }
      ]
      ++ modules;
    }).config;

  # A storage host with one backed-up tier (the shape `hearth render` writes).
  backupHost = {
    age.secrets = {
      hearth-restic-offsite = secret ./stubs.nix;
      restic-b2-env = secret ./stubs.nix;
    };
    hearth.backup = {
      enable = true;
      schedule = {
        backup = "*-*-* 01:00:00";
        randomizedDelay = "1h";
        prune = "Sun *-*-* 05:00:00";
        check = "*-*-01 06:00:00";
      };
      checkSubset = "5%";
      staleAfterHours = 48;
      stateDir = "/var/lib/hearth/backup";
      mountRoot = "/run/hearth-backup";
      jobs = [
        {
          name = "offsite-bulk";
          repository = "offsite";
          url = "b2:hearth-nas01:restic";
          passwordSecret = "hearth-restic-offsite";
          environmentSecret = "restic-b2-env";
          tier = "bulk";
          snapshot = "hearth-backup-offsite-bulk";
          datasets = [ { name = "tank/media"; mountpoint = "/tank/media"; } ];
          retention = { last = 0; hourly = 0; daily = 7; weekly = 4; monthly = 12; yearly = 2; };
        }
      ];
      repositories = [
        {
          name = "offsite";
          url = "b2:hearth-nas01:restic";
          passwordSecret = "hearth-restic-offsite";
          environmentSecret = "restic-b2-env";
        }
      ];
    };
  };

  failedAssertions = c: map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);

  secret = file: {
    inherit file;
    owner = "root";
    group = "root";
    mode = "0400";
  };

  # hosts/extgw01/hearth.nix as docs/design.md shows it.
  gatewayHost = {
    age.secrets = {
      "hearth-wireguard-key" = secret ../../secrets/extgw01/wireguard-key.age;
      "hearth-wireguard-psk-vps" = secret ../../secrets/vps/psk-extgw01.age;
      "hearth-totp-torjus" = secret ../../secrets/extgw01/totp-torjus.age;
    };
    hearth = {
      inherit (fx.minimalGateway) wireguard allowlist bastion;
    };
  };
  gw = eval [ gatewayHost ];

  # A shipping host and the Loki host (hosts/*/hearth.nix shapes).
  logsData = {
    enable = true;
    host = "jelly01";
    ship = true;
    agent = "alloy";
    push = {
      url = "http://10.69.13.11:3100/loki/api/v1/push";
      username = null;
      passwordSecret = null;
      tenant = null;
    };
    labels = { site = "home"; };
    journalMaxAge = "12h";
    loki = null;
  };
  withLogs = over: extra: eval ([ { hearth.logs = logsData // over; } ] ++ extra);
  lokiData = {
    host = "monitoring01";
    loki = {
      enable = true;
      port = 3100;
      grpcPort = 9096;
      retention = "31d";
      dataDir = "/var/lib/loki";
      allowFrom = [ "10.69.13.12" ];
    };
  };
  externalPush = {
    push = logsData.push // {
      url = "https://logs.example.net/loki/api/v1/push";
      username = "hearth";
      passwordSecret = "loki-password";
    };
  };

  hubHost = {
    age.secrets."hearth-wireguard-key" = secret ../../secrets/vps/wireguard-key.age;
    hearth.wireguard = fx.minimalGateway.wireguard // {
      role = "hub";
      addresses = [ "10.69.222.1/32" ];
      listenPort = 51821;
      masquerade = {
        enable = false;
        sources = [ ];
        destinations = [ ];
      };
      peers = [
        {
          name = "extgw01";
          publicKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
          allowedIPs = [
            "10.69.222.2/32"
            "10.69.13.0/24"
          ];
          endpoint = null;
          persistentKeepalive = null;
          presharedKeySecret = null;
        }
      ];
    };
  };
  hub = eval [ hubHost ];

  withWireguard = attrs: eval [ (gatewayHost // { hearth = gatewayHost.hearth // { wireguard = fx.minimalGateway.wireguard // attrs; }; }) ];
  withAllowlist = attrs: eval [ (gatewayHost // { hearth = gatewayHost.hearth // { allowlist = fx.minimalGateway.allowlist // attrs; }; }) ];
  withBastion = attrs: eval [ (gatewayHost // { hearth = gatewayHost.hearth // { bastion = fx.minimalGateway.bastion // attrs; }; }) ];
  withSecrets = secrets: eval [ (gatewayHost // { age.secrets = secrets; }) ];
  kvmData = {
    enable = true;
    pikvm = {
      address = "10.69.13.30";
      webPort = 443;
    };
    switch = {
      kind = "tesmart";
      address = "10.69.13.31";
      port = 5000;
      ports = 8;
      timeout = 5;
      switchDelay = 1;
      statePoll = 10;
    };
    hosts = [
      {
        name = "jelly01";
        port = 3;
      }
    ];
  };
  withKvm = extra: eval ([ (gatewayHost // { hearth = gatewayHost.hearth // { kvm = kvmData; }; }) ] ++ extra);

  # The example gateway's dynamic DNS (hosts/extgw01/hearth.nix) and its
  # token secret.
  ddnsData = (import ../../hosts/extgw01/hearth.nix).hearth.ddns;
  withDdns =
    attrs: secrets:
    eval [
      (gatewayHost // {
        age.secrets = gatewayHost.age.secrets // secrets;
        hearth = gatewayHost.hearth // { ddns = ddnsData // attrs; };
        networking.hostName = "extgw01";
      })
    ];
  ddnsSecret = { "ddns-token" = secret ../../secrets/extgw01/ddns-token.age; };

  # A colmena node: the deployment hearth renders, under colmena's
  # deploymentOptions (stubs.nix).
  deployData = import ../../hosts/deploy.nix;
  colmenaNode = host: eval [ { deployment = render.deploy.colmenaDeployment host deployData.nodes.${host}; } ];

  store = "/nix/store/00000000000000000000000000000000";
  nixosPamModules = {
    googleAuthenticator = "${store}-google-authenticator/lib/security/pam_google_authenticator.so";
    unix = "${store}-pam/lib/security/pam_unix.so";
    succeedIf = "${store}-pam/lib/security/pam_succeed_if.so";
    deny = "${store}-pam/lib/security/pam_deny.so";
    env = "${store}-pam/lib/security/pam_env.so";
    loginuid = "${store}-pam/lib/security/pam_loginuid.so";
    systemd = "${store}-systemd/lib/security/pam_systemd.so";
  };

  # Every hosts/<host>/hearth.nix in the repository (written by `hearth render`).
  hostsDir = repo + "/hosts";
  hostNames =
    if builtins.pathExists hostsDir then
      lib.filter (h: builtins.pathExists (hostsDir + "/${h}/hearth.nix")) (
        lib.attrNames (lib.filterAttrs (_: t: t == "directory") (builtins.readDir hostsDir))
      )
    else
      [ ];
  hostTests =
    host:
    let
      data = import (hostsDir + "/${host}/hearth.nix");
      h = data.hearth or { };
      c = eval [ data ];
      on = area: (h.${area} or { }).enable or false;
    in
    [
      {
        name = "hosts/${host}: no failed assertions or warnings";
        expr = failedAssertions c ++ c.warnings;
        expected = [ ];
      }
    ]
    ++ lib.optionals (on "kvm") [
      {
        name = "hosts/${host}: kvm switch map is the renderer's";
        expr = c.environment.etc."hearth/kvm.json".text;
        expected = builtins.toJSON (render.kvm.switchMap h.kvm);
      }
    ]
    ++ lib.optionals (on "storage") [
      {
        name = "hosts/${host}: storage sets hostId, pools, scrubs and the renderer's sanoid settings";
        expr = {
          hostId = c.networking.hostId;
          zfs = c.boot.supportedFilesystems.zfs;
          inherit (c.boot.zfs) extraPools;
          scrub = c.services.zfs.autoScrub.pools;
          settings = c.services.sanoid.settings;
          createBeforeSanoid = c.systemd.services.sanoid.after;
        };
        expected = {
          inherit (h.storage) hostId;
          zfs = true;
          extraPools = map (p: p.name) h.storage.pools;
          scrub = map (p: p.name) h.storage.pools;
          settings = render.storage.sanoidSettings h.storage;
          createBeforeSanoid = [ "hearth-storage-create.service" ];
        };
      }
      {
        name = "hosts/${host}: failures reach hearth-notify when [notify] is set";
        expr = c.systemd.services.sanoid.onFailure;
        expected = lib.optional (on "notify") "hearth-notify@%n.service";
      }
    ]
    ++ lib.optionals (on "storage" && h.storage.replication != [ ]) [
      {
        name = "hosts/${host}: syncoid pushes each replicated dataset with agenix's key";
        expr = {
          targets = lib.mapAttrs (_: c: c.target) c.services.syncoid.commands;
          key = c.services.syncoid.sshKey;
          keyOwner = c.age.secrets.${h.storage.replicationKeySecret}.owner;
        };
        expected = {
          targets = lib.listToAttrs (
            map (r: lib.nameValuePair r.name "hearth-replica@${r.address}:${r.targetDataset}") h.storage.replication
          );
          key = "/run/agenix/${h.storage.replicationKeySecret}";
          keyOwner = "syncoid";
        };
      }
    ]
    ++ lib.optionals (on "notify") [
      {
        name = "hosts/${host}: hearth-notify@ template runs the rendered hook";
        expr = c.systemd.services."hearth-notify@".scriptArgs;
        expected = "%i";
      }
    ]
    ++ lib.optionals (on "ddns") [
      {
        name = "hosts/${host}: ddclient is the renderer's, the token an agenix file";
        expr = removeAttrs c.services.ddclient [
          "configFile"
          "quiet"
          "script"
          "verbose"
          "extraConfig"
        ];
        expected = render.ddns.settings h.ddns // {
          enable = true;
          passwordFile = "/run/agenix/${h.ddns.passwordSecret}";
        };
      }
    ]
    ++ lib.optionals (on "wireguard") [
      {
        name = "hosts/${host}: wireguard interface is the renderer's, with agenix key files";
        expr =
          let
            i = c.networking.wireguard.interfaces.${h.wireguard.interface};
          in
          {
            inherit (i) ips listenPort mtu;
            peers = map (p: {
              inherit (p)
                name
                publicKey
                allowedIPs
                endpoint
                persistentKeepalive
                ;
            }) i.peers;
            keyFile = i.privateKeyFile;
          };
        expected = render.wireguard.interface h.wireguard // {
          keyFile = "/run/agenix/${h.wireguard.privateKeySecret}";
        };
      }
    ]
    ++ lib.optionals (on "allowlist") [
      {
        name = "hosts/${host}: nftables table hearth is the renderer's text";
        expr = c.networking.nftables.tables.hearth.content;
        expected = render.allowlist.allowlistContent h.allowlist;
      }
    ]
    ++ lib.optionals (on "bastion") [
      {
        name = "hosts/${host}: sshd settings are the renderer's";
        expr = builtins.intersectAttrs (render.bastion.settings h.bastion) c.services.openssh.settings;
        expected = render.bastion.settings h.bastion;
      }
    ]
    ++ lib.optionals (on "logs" && h.logs.ship) [
      {
        name = "hosts/${host}: /etc/alloy/config.alloy is the renderer's text; Alloy reads the journal";
        expr = {
          text = c.environment.etc."alloy/config.alloy".text;
          alloy = c.services.alloy.enable;
          groups = c.systemd.services.alloy.serviceConfig.SupplementaryGroups;
        };
        expected = {
          text = render.logs.alloyConfig h.logs;
          alloy = true;
          groups = [ "systemd-journal" ];
        };
      }
    ]
    ++ lib.optionals (on "logs" && h.logs.loki != null) [
      {
        name = "hosts/${host}: services.loki with the renderer's configuration; push port open to the shippers";
        expr = {
          inherit (c.services.loki) enable configuration;
          iptables = c.networking.firewall.extraCommands;
          nftables = c.networking.firewall.extraInputRules;
        };
        expected = {
          enable = true;
          configuration = render.logs.lokiConfig h.logs;
          iptables = (render.logs.lokiFirewall h.logs).iptables;
          nftables = "";
        };
      }
    ]
    ++ lib.optionals (on "ingress") [
      {
        name = "hosts/${host}: Caddy runs the renderer's JSON (no adapter), with the acme paths";
        expr = if h.ingress.backend == "caddy" then { inherit (c.services.caddy) adapter; text = c.services.caddy.configFile.text; } else null;
        expected =
          if h.ingress.backend == "caddy" then
            {
              adapter = null;
              text = render.ingress.caddyJson {
                cfg = h.ingress;
                certDir = n: "/var/lib/acme/${n}";
              };
            }
          else
            null;
      }
      {
        name = "hosts/${host}: one security.acme cert per name space, readable by the proxy, reloading it";
        expr = lib.mapAttrs (_: v: {
          inherit (v) domain dnsProvider group reloadServices;
          env = v.environmentFile != null;
        }) c.security.acme.certs;
        expected = lib.listToAttrs (
          map (x: {
            inherit (x) name;
            value = {
              inherit (x) domain;
              inherit (h.ingress.acme) dnsProvider;
              group = h.ingress.backend;
              reloadServices = [ "${h.ingress.backend}.service" ];
              env = h.ingress.acme.credentialsSecret != null;
            };
          }) h.ingress.certificates
        );
      }
    ]
    ++ lib.optionals (!(on "wireguard") && !(on "allowlist") && !(on "bastion") && !(on "ingress")) [
      {
        name = "hosts/${host}: a LAN host gets nothing from hearth";
        expr = {
          inherit (c.networking.wireguard) interfaces;
          inherit (c.networking.nftables) tables;
          ssh = c.services.openssh.enable;
        };
        expected = {
          interfaces = { };
          tables = { };
          ssh = false;
        };
      }
    ];
in
[
  # --- the example gateway of docs/design.md -------------------------------
  {
    name = "example gateway: no failed assertions, no warnings";
    expr = failedAssertions gw ++ gw.warnings;
    expected = [ ];
  }
  {
    name = "example gateway: networking.wireguard.interfaces.hearth0";
    expr =
      let
        i = gw.networking.wireguard.interfaces.hearth0;
      in
      {
        inherit (i)
          ips
          listenPort
          mtu
          privateKeyFile
          privateKey
          ;
        peers = map (p: {
          inherit (p)
            name
            publicKey
            allowedIPs
            endpoint
            persistentKeepalive
            presharedKeyFile
            presharedKey
            ;
        }) i.peers;
      };
    expected = {
      ips = [ "10.69.222.2/32" ];
      listenPort = null;
      mtu = 1420;
      privateKeyFile = "/run/agenix/hearth-wireguard-key";
      privateKey = null;
      peers = [
        {
          name = "vps";
          publicKey = "zxfp8tWAQauDIsSM+QGmCI7QqJKcXanzdF903FjT5Dg=";
          allowedIPs = [ "10.69.222.0/24" ];
          endpoint = "vps.2rjus.net:51821";
          persistentKeepalive = 25;
          presharedKeyFile = "/run/agenix/hearth-wireguard-psk-vps";
          presharedKey = null;
        }
      ];
    };
  }
  {
    name = "example gateway: forwarding sysctls";
    expr = gw.boot.kernel.sysctl;
    expected = {
      "net.ipv4.conf.all.forwarding" = true;
      "net.ipv4.conf.default.forwarding" = true;
    };
  }
  {
    name = "the sysctl stub is as strict as nixpkgs': two equal definitions at one priority are an error";
    throws = (eval [ { boot.kernel.sysctl."vm.swappiness" = 10; } { boot.kernel.sysctl."vm.swappiness" = 10; } ]).boot.kernel.sysctl."vm.swappiness";
  }
  {
    name = "forwarding sysctls beside the user's own or networking.nat's (mkOverride 99) definitions";
    expr = map (extra: (eval [ gatewayHost extra ]).boot.kernel.sysctl."net.ipv4.conf.all.forwarding") [
      { boot.kernel.sysctl."net.ipv4.conf.all.forwarding" = true; }
      { boot.kernel.sysctl."net.ipv4.conf.all.forwarding" = lib.mkOverride 99 true; }
    ];
    expected = [
      true
      true
    ];
  }
  {
    name = "forwarding turned off elsewhere is an assertion, not a silent dead gateway";
    expr = failedAssertions (eval [ gatewayHost { boot.kernel.sysctl."net.ipv4.conf.all.forwarding" = false; } ]);
    expected = [
      "hearth.wireguard.forwarding: boot.kernel.sysctl.\"net.ipv4.conf.all.forwarding\" is false elsewhere in the configuration, so this hub/gateway would not route; remove that definition."
    ];
  }
  {
    name = "networking.firewall.extraCommands beside the allowlist and masquerade: hearth's assertions say why (nftables backend)";
    expr = map (lib.hasInfix "turns on networking.nftables") (failedAssertions (eval [ gatewayHost { networking.firewall.extraCommands = "iptables -A INPUT -j ACCEPT"; } ]));
    expected = [
      true
      true
    ];
  }
  {
    name = "extraCommands with the firewall off: nothing to say";
    expr = failedAssertions (eval [ gatewayHost { networking.firewall.enable = false; networking.firewall.extraCommands = "true"; } ]);
    expected = [ ];
  }
  {
    name = "checks/vm/common.nix, agenix from activation: the key script runs before agenixInstall";
    expr =
      let
        c = eval [
          ../vm/common.nix
          gatewayHost
        ];
      in
      {
        deps = c.system.activationScripts.agenixInstall.deps;
        key = lib.hasInfix "ssh_host_ed25519_key" c.system.activationScripts.hearthTestHostKey.text;
        unit = c.systemd.services ? hearth-test-host-key;
      };
    expected = {
      deps = [ "hearthTestHostKey" ];
      key = true;
      unit = false;
    };
  }
  {
    name = "checks/vm/common.nix with userborn: no activation script, a unit before agenix-install-secrets";
    expr =
      let
        c = eval [
          ../vm/common.nix
          gatewayHost
          { services.userborn.enable = true; }
        ];
      in
      {
        scripts = lib.attrNames c.system.activationScripts;
        inherit (c.systemd.services.hearth-test-host-key) before requiredBy;
      };
    expected = {
      scripts = [ ];
      before = [ "agenix-install-secrets.service" ];
      requiredBy = [ "agenix-install-secrets.service" ];
    };
  }
  {
    name = "checks/vm/common.nix with systemd-sysusers: no activation script, a unit before agenix-install-secrets";
    expr =
      let
        c = eval [
          ../vm/common.nix
          gatewayHost
          { systemd.sysusers.enable = true; }
        ];
      in
      {
        scripts = lib.attrNames c.system.activationScripts;
        inherit (c.systemd.services.hearth-test-host-key) before requiredBy;
      };
    expected = {
      scripts = [ ];
      before = [ "agenix-install-secrets.service" ];
      requiredBy = [ "agenix-install-secrets.service" ];
    };
  }
  {
    name = "a deploy user: wheel, sudo without a password, trusted by Nix; others none of it";
    expr =
      let
        c = withBastion {
          users = fx.minimalGateway.bastion.users ++ [
            {
              name = "ops";
              sshKeys = [ ];
              totp = true;
              deploy = true;
              totpSecret = "hearth-totp-torjus";
            }
          ];
        };
      in
      {
        ops = c.users.users.ops.extraGroups;
        torjus = c.users.users.torjus.extraGroups;
        sudo = c.security.sudo.extraRules;
        trusted = c.nix.settings.trusted-users;
        trustedWithout = gw.nix.settings.trusted-users;
      };
    expected = {
      ops = [ "wheel" ];
      torjus = [ ];
      sudo = [
        {
          users = [ "ops" ];
          groups = [ ];
          host = "ALL";
          runAs = "ALL:ALL";
          commands = [
            {
              command = "ALL";
              options = [ "NOPASSWD" ];
            }
          ];
        }
      ];
      trusted = [
        "root"
        "ops"
      ];
      trustedWithout = [ "root" ];
    };
  }
  {
    name = "a deploy user without TOTP is an assertion";
    expr = failedAssertions (withBastion {
      users = [
        {
          name = "ops";
          sshKeys = [ "ssh-ed25519 AAAA" ];
          totp = false;
          deploy = true;
        }
      ];
    });
    expected = [ "hearth.bastion.users: \"ops\": a deploy user gets root through sudo, so it needs totp = true." ];
  }
  {
    name = "example gateway: no listen port, nothing opened";
    expr = gw.networking.firewall.allowedUDPPorts;
    expected = [ ];
  }
  {
    name = "example gateway: nftables on, checkRuleset kept on, tables hearth and hearth-nat";
    expr = {
      inherit (gw.networking.nftables) enable checkRuleset;
      tables = lib.mapAttrs (_: t: { inherit (t) enable family name; }) gw.networking.nftables.tables;
    };
    expected = {
      enable = true;
      checkRuleset = true;
      tables = {
        hearth = {
          enable = true;
          family = "inet";
          name = "hearth";
        };
        hearth-nat = {
          enable = true;
          family = "ip";
          name = "hearth-nat";
        };
      };
    };
  }
  {
    name = "example gateway: table hearth content is the renderer's text";
    expr = gw.networking.nftables.tables.hearth.content;
    expected = render.allowlist.allowlistContent fx.minimalGateway.allowlist;
  }
  {
    name = "example gateway: table hearth content (spot check of the text)";
    expr = lib.filter (l: lib.hasPrefix "  ip saddr" l || lib.hasPrefix "  iifname" l || lib.hasPrefix "  tcp dport 22 ct" l) (
      lib.splitString "\n" gw.networking.nftables.tables.hearth.content
    );
    expected = [
      "  iifname != \"hearth0\" accept"
      "  ip saddr vmap @src_class"
      "  tcp dport 22 ct state new add @ssh_meter { ip saddr limit rate over 10/minute burst 5 packets } goto ssh_drop"
    ];
  }
  {
    name = "example gateway: table hearth-nat masquerades the VPN pool into the LAN";
    expr = gw.networking.nftables.tables.hearth-nat.content;
    expected = ''
      chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname != "hearth0" ip saddr { 10.69.222.0/24 } ip daddr { 10.69.13.0/24 } masquerade
      }
    '';
  }
  {
    name = "example gateway: services.openssh";
    expr = {
      inherit (gw.services.openssh) enable ports openFirewall;
      settings = lib.filterAttrs (_: v: v != null) gw.services.openssh.settings;
    };
    expected = {
      enable = true;
      ports = [ 22 ];
      openFirewall = true;
      settings = {
        AllowAgentForwarding = false;
        AllowTcpForwarding = "yes";
        AllowUsers = [
          "torjus@10.69.222.0/24"
          "torjus@10.69.13.0/24"
        ];
        AuthenticationMethods = "publickey,keyboard-interactive";
        # nixpkgs' defaults for the typed keys hearth leaves alone:
        AuthorizedPrincipalsFile = "none";
        GatewayPorts = "no";
        KbdInteractiveAuthentication = true;
        LogLevel = "VERBOSE";
        LoginGraceTime = 30;
        MaxAuthTries = 3;
        PasswordAuthentication = false;
        PermitRootLogin = "no";
        PrintMotd = false;
        StrictModes = true;
        UseDns = false;
        UsePAM = true;
        X11Forwarding = false;
      };
    };
  }
  {
    name = "example gateway: sshd PAM stack replaced by the renderer's, with store paths";
    expr = gw.security.pam.services.sshd.text;
    expected = render.bastion.sshdStack {
      cfg = fx.minimalGateway.bastion;
      modules = nixosPamModules;
    };
  }
  {
    name = "security.pam.loginLimits hold for SSH: pam_limits with the limits file in the sshd stack (issue 18)";
    expr =
      let
        c = eval [
          gatewayHost
          {
            security.pam.loginLimits = [
              {
                domain = "*";
                type = "hard";
                item = "nofile";
                value = 4096;
              }
            ];
          }
        ];
      in
      lib.filter (lib.hasInfix "pam_limits") (lib.splitString "\n" c.security.pam.services.sshd.text);
    expected = [
      "session required /nix/store/00000000000000000000000000000000-pam/lib/security/pam_limits.so conf=/nix/store/00000000000000000000000000000000-limits.conf"
    ];
  }
  {
    name = "example gateway: the PAM stack's auth lines";
    expr = lib.filter (lib.hasPrefix "auth ") (lib.splitString "\n" gw.security.pam.services.sshd.text);
    expected = [
      "auth required ${nixosPamModules.googleAuthenticator} secret=/var/lib/hearth/totp/\${USER} user=root"
    ];
  }
  {
    name = "example gateway: user created with its keys";
    expr = {
      inherit (gw.users.users.torjus) isNormalUser;
      inherit (gw.users.users.torjus.openssh.authorizedKeys) keys;
    };
    expected = {
      isNormalUser = true;
      keys = [ "ssh-ed25519 AAAA..." ];
    };
  }
  {
    name = "example gateway: hearth-totp unit installs the seed before sshd";
    expr =
      let
        s = gw.systemd.services.hearth-totp;
      in
      {
        inherit (s)
          wantedBy
          before
          after
          serviceConfig
          ;
        installs = lib.filter (lib.hasPrefix "install_seed ") (lib.splitString "\n" s.script);
        header = (lib.head s.restartTriggers).text;
      };
    expected = {
      wantedBy = [ "multi-user.target" ];
      before = [ "sshd.service" ];
      after = [ "agenix-install-secrets.service" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        UMask = "0077";
      };
      installs = [ "install_seed torjus /run/agenix/hearth-totp-torjus || status=1" ];
      header = render.bastion.totpHeader fx.minimalGateway.bastion;
    };
  }
  {
    name = "example gateway: age.secrets as generated";
    expr = lib.mapAttrs (_: s: {
      inherit (s)
        path
        owner
        group
        mode
        ;
    }) gw.age.secrets;
    expected = {
      "hearth-totp-torjus" = {
        path = "/run/agenix/hearth-totp-torjus";
        owner = "root";
        group = "root";
        mode = "0400";
      };
      "hearth-wireguard-key" = {
        path = "/run/agenix/hearth-wireguard-key";
        owner = "root";
        group = "root";
        mode = "0400";
      };
      "hearth-wireguard-psk-vps" = {
        path = "/run/agenix/hearth-wireguard-psk-vps";
        owner = "root";
        group = "root";
        mode = "0400";
      };
    };
  }
  {
    name = "example gateway: secret files are the path literals of hearth.nix";
    expr = gw.age.secrets."hearth-wireguard-key".file == ../../secrets/extgw01/wireguard-key.age;
    expected = true;
  }
  {
    name = "no plaintext key material in any wireguard option";
    expr = map (p: p.presharedKey) gw.networking.wireguard.interfaces.hearth0.peers ++ [
      gw.networking.wireguard.interfaces.hearth0.privateKey
    ];
    expected = [
      null
      null
    ];
  }

  # --- hub ------------------------------------------------------------------
  {
    name = "hub: listens, opens its UDP port, forwards, no nat table";
    expr = {
      inherit (hub.networking.wireguard.interfaces.hearth0) listenPort;
      udp = hub.networking.firewall.allowedUDPPorts;
      forwarding = hub.boot.kernel.sysctl."net.ipv4.conf.all.forwarding";
      tables = lib.attrNames hub.networking.nftables.tables;
      failed = failedAssertions hub;
    };
    expected = {
      listenPort = 51821;
      udp = [ 51821 ];
      forwarding = true;
      tables = [ ];
      failed = [ ];
    };
  }
  {
    name = "hub with openFirewall = false opens nothing";
    expr = (eval [ (hubHost // { hearth.wireguard = hubHost.hearth.wireguard // { openFirewall = false; }; }) ]).networking.firewall.allowedUDPPorts;
    expected = [ ];
  }

  # --- user CA ----------------------------------------------------------------
  {
    name = "no user CA: no CA file, no TrustedUserCAKeys";
    expr = {
      etc = lib.attrNames gw.environment.etc;
      trusted = gw.services.openssh.settings ? TrustedUserCAKeys;
    };
    expected = {
      etc = [ ];
      trusted = false;
    };
  }
  {
    name = "user CA: key written to /etc and trusted by sshd";
    expr =
      let
        c = withBastion { userCA = { publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhearthtest hearth-user-ca"; }; };
      in
      {
        etc = { inherit (c.environment.etc."ssh/hearth-user-ca.pub") text mode; };
        trusted = c.services.openssh.settings.TrustedUserCAKeys;
      };
    expected = {
      etc = {
        text = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhearthtest hearth-user-ca\n";
        mode = "0444";
      };
      trusted = "/etc/ssh/hearth-user-ca.pub";
    };
  }
  {
    name = "a user without TOTP skips the code in PAM and gets no seed";
    expr =
      let
        c = withBastion {
          users = fx.minimalGateway.bastion.users ++ [
            {
              name = "deploy";
              sshKeys = [ "ssh-ed25519 AAAAdeploy" ];
              totp = false;
              totpSecret = null;
            }
          ];
        };
      in
      {
        failed = failedAssertions c;
        skip = lib.filter (lib.hasInfix "pam_succeed_if") (lib.splitString "\n" c.security.pam.services.sshd.text);
        installs = lib.filter (lib.hasPrefix "install_seed ") (lib.splitString "\n" c.systemd.services.hearth-totp.script);
      };
    expected = {
      failed = [ ];
      skip = [ "auth [success=done default=ignore] ${nixosPamModules.succeedIf} quiet user in deploy" ];
      installs = [ "install_seed torjus /run/agenix/hearth-totp-torjus || status=1" ];
    };
  }

  # --- assertions that must fire, with the message that says how to fix it ---
  {
    name = "assertion: private key secret missing from age.secrets";
    expr = failedAssertions (withSecrets { "hearth-wireguard-psk-vps" = secret ./stubs.nix; "hearth-totp-torjus" = secret ./stubs.nix; });
    expected = [
      "hearth.wireguard.privateKeySecret: age.secrets.\"hearth-wireguard-key\" is not defined; run `hearth render` so hosts/<host>/hearth.nix declares it, or define it yourself."
    ];
  }
  {
    name = "assertion: preshared key secret missing";
    expr = failedAssertions (withSecrets { "hearth-wireguard-key" = secret ./stubs.nix; "hearth-totp-torjus" = secret ./stubs.nix; });
    expected = [
      "hearth.wireguard.peers.*.presharedKeySecret: age.secrets.\"hearth-wireguard-psk-vps\" is not defined; run `hearth render` or set presharedKeySecret = null."
    ];
  }
  {
    name = "assertion: interface name over 15 characters";
    expr = failedAssertions (withWireguard { interface = "hearth-tunnel-0123"; }) ;
    expected = [
      "hearth.wireguard.interface: \"hearth-tunnel-0123\" is not an interface name (1-15 characters of A-Z a-z 0-9 _ . = + -, not starting with .)."
    ];
  }
  {
    name = "assertion: hub without a listen port";
    expr = failedAssertions (withWireguard { role = "hub"; masquerade.enable = false; });
    expected = [ "hearth.wireguard.listenPort: a hub must listen; set a port (for example 51821)." ];
  }
  {
    name = "a hub masquerading full-tunnel clients towards the internet passes every assertion";
    expr = failedAssertions (withWireguard {
      role = "hub";
      listenPort = 51821;
      masquerade = {
        enable = true;
        sources = [ "10.69.222.0/24" ];
        destinations = [ "0.0.0.0/0" ];
      };
    });
    expected = [ ];
  }
  {
    name = "assertion: gateway without forwarding (and so no masquerade)";
    expr = failedAssertions (withWireguard { forwarding = false; });
    expected = [
      "hearth.wireguard.forwarding: a gateway forwards traffic; set it to true."
      "hearth.wireguard.masquerade.enable: only a forwarding hub or gateway masquerades; disable it or set forwarding = true."
    ];
  }
  {
    name = "assertion: duplicate peer names";
    expr = failedAssertions (withWireguard { peers = fx.minimalGateway.wireguard.peers ++ fx.minimalGateway.wireguard.peers; });
    expected = [
      "hearth.wireguard.peers: peer names must be unique (they name systemd units); rename the duplicates in inventory.toml."
    ];
  }
  {
    name = "assertion: NixOS client with a full tunnel";
    expr = failedAssertions (withWireguard {
      role = "client";
      forwarding = false;
      masquerade.enable = false;
      peers = map (p: p // { allowedIPs = [ "0.0.0.0/0" ]; }) fx.minimalGateway.wireguard.peers;
    });
    expected = [
      "hearth.wireguard.peers: a NixOS client cannot use a full tunnel (0.0.0.0/0) with networking.wireguard, whose routes would swallow the tunnel's own packets; use the split tunnel for NixOS clients."
    ];
  }
  {
    name = "assertion: allowlist rule from an unknown source set";
    expr = failedAssertions (withAllowlist { rules = [ (lib.head fx.minimalGateway.allowlist.rules // { from = [ "admins" "ghosts" ]; }) ]; });
    expected = [
      "hearth.allowlist.rules (\"grafana\").from: unknown source set(s) ghosts; add them to hearth.allowlist.sources or run `hearth render` again."
    ];
  }
  {
    name = "assertion: SSH restricted to no sources";
    expr = failedAssertions (withAllowlist { ssh = fx.minimalGateway.allowlist.ssh // { sources = [ ]; }; });
    expected = [
      "hearth.allowlist.ssh.sources: empty, so SSH to this host would be refused from everywhere; list the VPN and LAN networks or disable hearth.allowlist.ssh."
    ];
  }
  {
    name = "warning: checkRuleset turned off";
    expr = (eval [ gatewayHost { networking.nftables.checkRuleset = false; } ]).warnings;
    expected = [
      "networking.nftables.checkRuleset is off: hearth's allowlist table is then not checked with `nft --check` at build time, and a ruleset the kernel rejects leaves the gateway without its filter at boot. Turn it back on unless the check itself cannot run."
    ];
  }
  {
    name = "assertion: bastion without users";
    expr = failedAssertions (withBastion { users = [ ]; });
    expected = [
      "hearth.bastion.users: no users, so nobody could log in; add one with `hearth user add NAME --ssh-key KEY --totp`."
    ];
  }
  {
    name = "assertion: root as a bastion user";
    expr = failedAssertions (withBastion { users = [ { name = "root"; sshKeys = [ ]; totp = false; } ]; });
    expected = [
      "hearth.bastion.users: \"root\" cannot be a bastion user (PermitRootLogin is no); use a personal account."
    ];
  }
  {
    name = "assertion: TOTP user without a seed secret";
    expr = failedAssertions (withBastion { users = [ { name = "alice"; sshKeys = [ ]; totp = true; } ]; });
    expected = [
      "hearth.bastion.users (\"alice\").totpSecret: not set; a TOTP user needs a seed: run `hearth render`, or set totp = false."
    ];
  }
  {
    name = "assertion: TOTP seed secret not in age.secrets";
    expr = failedAssertions (withSecrets { "hearth-wireguard-key" = secret ./stubs.nix; "hearth-wireguard-psk-vps" = secret ./stubs.nix; });
    expected = [
      "hearth.bastion.users (\"torjus\").totpSecret: age.secrets.\"hearth-totp-torjus\" is not defined; a TOTP user needs a seed: run `hearth render`, or set totp = false."
    ];
  }

  # --- logs ----------------------------------------------------------------
  {
    name = "logs: agent promtail on a nixpkgs without services.promtail stops with an assertion naming Alloy";
    expr = failedAssertions (withLogs { agent = "promtail"; } [ ]);
    expected = [
      "hearth.logs.agent: \"promtail\", but this nixpkgs has no services.promtail (nixpkgs PR 505055 removed it; promtail reached end of life on 2026-03-02). Use Grafana Alloy: set agent = \"alloy\" in [logs] of inventory.toml and run `hearth render`."
    ];
  }
  {
    name = "logs: agent promtail starts no Alloy";
    expr = (withLogs { agent = "promtail"; } [ ]).services.alloy.enable;
    expected = false;
  }
  {
    name = "logs: external Loki password handed to Alloy as a systemd credential from agenix";
    expr = (withLogs externalPush [ { age.secrets.loki-password = secret ./stubs.nix; } ]).systemd.services.alloy.serviceConfig.LoadCredential;
    expected = [ "loki-password:/run/agenix/loki-password" ];
  }
  {
    name = "logs: password secret missing from age.secrets";
    expr = failedAssertions (withLogs externalPush [ ]);
    expected = [
      "hearth.logs.push.passwordSecret: \"loki-password\" is not in age.secrets; add it to this host's `secrets` in inventory.toml, set it with `hearth secret set loki-password --host jelly01`, and run `hearth render`."
    ];
  }
  {
    name = "logs: no password, no credential";
    expr = (withLogs { } [ ]).systemd.services.alloy.serviceConfig ? LoadCredential;
    expected = false;
  }
  {
    name = "logs: Loki host with the nftables firewall: an input rule, no iptables commands";
    expr =
      let
        c = withLogs lokiData [ { networking.nftables.enable = true; } ];
      in
      {
        nft = c.networking.firewall.extraInputRules;
        ipt = c.networking.firewall.extraCommands;
      };
    expected = {
      nft = "ip saddr { 10.69.13.12 } tcp dport 3100 accept comment \"hearth logs: Loki push\"";
      ipt = "";
    };
  }
  {
    name = "logs: a host that does not ship runs no agent";
    expr = (withLogs (lokiData // { ship = false; }) [ ]).services.alloy.enable;
    expected = false;
  }
  { name = "type: logs agent fluentbit"; throws = (withLogs { agent = "fluentbit"; } [ ]).hearth.logs.agent; }
  # --- kvm on the bastion -------------------------------------------------
  {
    name = "kvm: the switch map is the renderer's, hearth-kvm runs hearth kvm --map";
    expr =
      let
        c = withKvm [ ];
      in
      {
        map = c.environment.etc."hearth/kvm.json".text;
        commands = map (p: p.text) (lib.filter (p: p.name == "hearth-kvm") c.environment.systemPackages);
      };
    expected = {
      map = builtins.toJSON (render.kvm.switchMap kvmData);
      commands = [ "exec ${store}-hearth/bin/hearth kvm --map /etc/hearth/kvm.json \"$@\"\n" ];
    };
  }
  {
    name = "assertion: kvm without the hearth package";
    expr = failedAssertions (withKvm [ { hearth.kvm.package = null; } ]);
    expected = [
      "hearth.kvm.package must be set to the hearth package (the flake's nixosModules.default sets it), so that hearth-kvm can run `hearth kvm`."
    ];
  }
  { name = "type: kvm host on port 17"; throws = (withKvm [ { hearth.kvm.hosts = lib.mkForce [ { name = "a"; port = 17; } ]; } ]).hearth.kvm.hosts; }
  { name = "type: kvm host name that would break the YAML"; throws = (withKvm [ { hearth.kvm.hosts = lib.mkForce [ { name = "a: b"; port = 1; } ]; } ]).hearth.kvm.hosts; }

  # --- ddns: services.ddclient from hearth.ddns, token through agenix -------
  {
    name = "ddns: services.ddclient set from the renderer, password as an agenix path";
    expr =
      let
        c = withDdns { } ddnsSecret;
        d = c.services.ddclient;
      in
      {
        inherit (d) enable protocol zone username domains interval usev4 use ssl server passwordFile;
        asserts = failedAssertions c;
      };
    expected = {
      enable = true;
      protocol = "cloudflare";
      zone = "2rjus.net";
      username = "token";
      domains = [ "homelab.2rjus.net" ];
      interval = "5min";
      usev4 = "webv4, webv4=ipify-ipv4";
      use = "";
      ssl = true;
      server = "";
      passwordFile = "/run/agenix/ddns-token";
      asserts = [ ];
    };
  }
  {
    name = "ddns: no password anywhere in the evaluated ddclient options";
    expr = lib.any (v: lib.isString v && lib.hasInfix "TEST-ONLY" v) (lib.attrValues (withDdns { } ddnsSecret).services.ddclient);
    expected = false;
  }
  {
    name = "assertion: ddns secret not in age.secrets";
    expr = failedAssertions (withDdns { } { });
    expected = [
      "hearth.ddns.passwordSecret: there is no age.secrets.\"ddns-token\"; set it with `hearth secret set ddns-token --host extgw01` and run `hearth render`."
    ];
  }
  { name = "type: ddns domains not a list"; throws = (withDdns { domains = "homelab.2rjus.net"; } ddnsSecret).hearth.ddns.domains; }

  # --- colmena: hearth's deployment under colmena's deploymentOptions -------
  {
    name = "colmena: a LAN host's deployment (through the bastion)";
    expr = { inherit ((colmenaNode "monitoring01").deployment) targetHost targetPort targetUser tags sshOptions buildOnTarget; };
    expected = {
      targetHost = "10.69.13.11";
      targetPort = 22;
      targetUser = "root";
      tags = [ "lan" "via-bastion" ];
      sshOptions = [ "-J" "extgw01" ];
      buildOnTarget = false;
    };
  }
  {
    name = "colmena: every example node's deployment has colmena's types";
    expr = lib.all (h: builtins.deepSeq (colmenaNode h).deployment true) (lib.attrNames deployData.nodes);
    expected = true;
  }
  { name = "type: colmena targetPort as a string"; throws = (eval [ { deployment.targetPort = "22"; } ]).deployment.targetPort; }
  { name = "type: colmena misspelt option"; throws = (eval [ { deployment.sshOpts = [ ]; } ]).deployment; }

  # --- option types reject bad data before any renderer runs ---------------
  { name = "type: listenPort 70000"; throws = (withWireguard { listenPort = 70000; }).hearth.wireguard.listenPort; }
  { name = "type: unknown role"; throws = (withWireguard { role = "router"; }).hearth.wireguard.role; }
  { name = "type: allowlist protocol icmp"; throws = (withAllowlist { rules = [ (lib.head fx.minimalGateway.allowlist.rules // { proto = [ "icmp" ]; }) ]; }).hearth.allowlist.rules; }
  { name = "type: user name with a space"; throws = (withBastion { users = [ { name = "a b"; } ]; }).hearth.bastion.users; }
  { name = "type: TOTP window 0"; throws = (withBastion { totp = fx.minimalGateway.bastion.totp // { window = 0; }; }).hearth.bastion.totp.window; }
  { name = "type: unknown hearth option"; throws = (eval [ gatewayHost { hearth.wireguard.colour = "red"; } ]).hearth.wireguard; }

  # --- backup -------------------------------------------------------------
  {
    name = "backup: restic jobs from agenix paths, OnFailure to hearth-notify, stale check timer";
    expr =
      let
        c = eval [ backupHost ];
      in
      {
        repo = c.services.restic.backups.offsite-bulk.repository;
        password = c.services.restic.backups.offsite-bulk.passwordFile;
        env = c.services.restic.backups.offsite-bulk.environmentFile;
        prune = c.services.restic.backups.offsite-bulk-prune.pruneOpts;
        onFailure = c.systemd.services.restic-backups-offsite-bulk.onFailure;
        staleFailure = c.systemd.services.hearth-backup-stale-offsite-bulk.onFailure;
        staleTimer = c.systemd.timers.hearth-backup-stale-offsite-bulk.timerConfig.OnCalendar;
        assertions = failedAssertions c;
      };
    expected = {
      repo = "b2:hearth-nas01:restic";
      password = "/run/agenix/hearth-restic-offsite";
      env = "/run/agenix/restic-b2-env";
      prune = [ "--tag hearth-tier-bulk" "--group-by host,tags" "--keep-daily 7" "--keep-weekly 4" "--keep-monthly 12" "--keep-yearly 2" "--repack-cacheable-only" ];
      onFailure = [ "hearth-notify@%n.service" ];
      staleFailure = [ "hearth-notify@%n.service" ];
      staleTimer = "hourly";
      assertions = [ ];
    };
  }
  {
    name = "backup: assertion when the credentials secret is not declared";
    expr = failedAssertions (eval [ (backupHost // { age.secrets = { hearth-restic-offsite = secret ./stubs.nix; }; }) ]);
    expected = [
      "hearth.backup: age.secrets.restic-b2-env must be declared (run `hearth render`; set provider keys with `hearth secret set restic-b2-env --host nixos`)."
    ];
  }
  { name = "type: backup job without datasets"; throws = (eval [ (backupHost // { hearth.backup = backupHost.hearth.backup // { jobs = [ ((lib.head backupHost.hearth.backup.jobs) // { datasets = [ ]; }) ]; }; }) ]).hearth.backup.jobs; }
]
# --- the ingress (hosts/http-proxy/hearth.nix of the example, varied) --------
++ (
  let
    proxy = import ../../hosts/http-proxy/hearth.nix;
    ing = proxy.hearth.ingress;
    with' = over: eval [ (proxy // { hearth.ingress = ing // over; }) ];
    caddy = eval [ proxy ];
    traefik = with' { backend = "traefik"; };
  in
  [
    {
      name = "ingress: basic-auth users readable by the proxy only";
      expr = {
        inherit (caddy.age.secrets.ingress-basic-nzbget) owner mode;
        dns = caddy.age.secrets.ingress-dns.owner;
      };
      expected = {
        owner = "caddy";
        mode = "0400";
        dns = "root";
      };
    }
    {
      name = "ingress: caddy's basic-auth hashes come from the renderer's script, as root, into a root-only environment file";
      expr = {
        inherit (caddy.systemd.services.caddy.serviceConfig) EnvironmentFile RuntimeDirectory RuntimeDirectoryMode;
        pre = map (x: builtins.substring 0 1 x) caddy.systemd.services.caddy.serviceConfig.ExecStartPre;
        restart = caddy.systemd.services.caddy.restartTriggers == [ caddy.age.secrets.ingress-basic-nzbget.file ];
      };
      expected = {
        EnvironmentFile = [ "-/run/hearth-ingress/caddy.env" ];
        RuntimeDirectory = "hearth-ingress";
        RuntimeDirectoryMode = "0700";
        pre = [ "+" ];
        restart = true;
      };
    }
    {
      name = "ingress: the route back to the VPN (no masquerade towards the ingress)";
      expr = caddy.systemd.services.hearth-ingress-route.script;
      expected = "ip route replace 10.69.222.0/24 via 10.69.13.20";
    }
    {
      name = "ingress: caddy waits for its certificates; 80 and 443 open";
      expr = {
        inherit (caddy.systemd.services.caddy) wants;
        ports = caddy.networking.firewall.allowedTCPPorts;
      };
      expected = {
        wants = [ "acme-home.2rjus.net.service" "acme-lan.home.2rjus.net.service" ];
        ports = [ 80 443 ];
      };
    }
    {
      name = "ingress: traefik gets the renderer's dynamic config and converted htpasswd files";
      expr = {
        dyn = traefik.services.traefik.dynamicConfigOptions;
        caddy = traefik.services.caddy.enable;
        owner = traefik.age.secrets.ingress-basic-nzbget.owner;
        websecure = traefik.services.traefik.staticConfigOptions.entryPoints.websecure.address;
      };
      expected = {
        dyn = render.ingress.traefik {
          cfg = ing // { backend = "traefik"; };
          secretPath = n: "/run/hearth-ingress/${n}.htpasswd";
          certDir = n: "/var/lib/acme/${n}";
        };
        caddy = false;
        owner = "traefik";
        websecure = ":443";
      };
    }
    {
      name = "ingress: tls internal with traefik is refused with the fix";
      expr = failedAssertions (with' { backend = "traefik"; tls = ing.tls // { mode = "internal"; }; });
      expected = [ "hearth.ingress.tls.mode: \"internal\" is Caddy's own CA; set hearth.ingress.backend = \"caddy\" or use tls.mode = \"acme\"." ];
    }
    {
      name = "ingress: an own ACME CA's root reaches lego";
      expr = (with' { acme = ing.acme // { caRoot = "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"; }; }).systemd.services."acme-order-renew-home.2rjus.net".environment.LEGO_CA_CERTIFICATES;
      expected = "/nix/store/00000000000000000000000000000000-hearth-acme-ca-root.pem";
    }
    {
      name = "type: an unknown auth type";
      throws = (with' { sites = [ ((builtins.head ing.sites) // { auth = { type = "oauth"; basicSecret = null; }; }) ]; }).hearth.ingress.sites;
    }
  ]
)
# --- the ingress's resolver (hosts/extgw01/hearth.nix of the example) --------
++ (
  let
    gwHost = import ../../hosts/extgw01/hearth.nix;
    gw = eval [ gwHost ];
    res = gwHost.hearth.ingress.resolver;
    rendered = render.ingress.unbound res;
  in
  [
    {
      name = "ingress resolver: unbound on the gateway with the renderer's settings; the proxy stays off";
      expr = {
        inherit (gw.services.unbound) enable resolveLocalQueries;
        inherit (gw.services.unbound.settings) server forward-zone;
        caddy = gw.services.caddy.enable;
      };
      expected = {
        enable = true;
        resolveLocalQueries = false;
        inherit (rendered) server forward-zone;
        caddy = false;
      };
    }
    {
      name = "ingress resolver: NixOS's firewall lets VPN clients reach it on 53 (the allowlist's input rule)";
      expr = lib.hasInfix (render.allowlist.inputRules { input = [ (render.ingress.resolverInput res) ]; }) gw.networking.firewall.extraInputRules;
      expected = true;
    }
    {
      name = "ingress resolver: without the allowlist it is refused with the fix";
      expr = failedAssertions (eval [ (gwHost // { hearth = gwHost.hearth // { allowlist = gwHost.hearth.allowlist // { enable = false; }; }; }) ]);
      expected = [ "hearth.ingress.resolver: the input rule that lets VPN clients reach it on 53 is rendered by hearth.allowlist; enable hearth.allowlist (`hearth render` sets it on the gateway)." ];
    }
  ]
)
++ lib.concatMap hostTests hostNames
