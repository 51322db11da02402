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
      inherit (fx.exampleGateway) wireguard allowlist bastion;
    };
  };
  gw = eval [ gatewayHost ];

  hubHost = {
    age.secrets."hearth-wireguard-key" = secret ../../secrets/vps/wireguard-key.age;
    hearth.wireguard = fx.exampleGateway.wireguard // {
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

  withWireguard = attrs: eval [ (gatewayHost // { hearth = gatewayHost.hearth // { wireguard = fx.exampleGateway.wireguard // attrs; }; }) ];
  withAllowlist = attrs: eval [ (gatewayHost // { hearth = gatewayHost.hearth // { allowlist = fx.exampleGateway.allowlist // attrs; }; }) ];
  withBastion = attrs: eval [ (gatewayHost // { hearth = gatewayHost.hearth // { bastion = fx.exampleGateway.bastion // attrs; }; }) ];
  withSecrets = secrets: eval [ (gatewayHost // { age.secrets = secrets; }) ];

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
    ++ lib.optionals (!(on "wireguard") && !(on "allowlist") && !(on "bastion")) [
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
          publicKey = "base64=";
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
    expected = render.allowlist.allowlistContent fx.exampleGateway.allowlist;
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
      cfg = fx.exampleGateway.bastion;
      modules = nixosPamModules;
    };
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
      header = render.bastion.totpHeader fx.exampleGateway.bastion;
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
          users = fx.exampleGateway.bastion.users ++ [
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
      "hearth.wireguard.interface: \"hearth-tunnel-0123\" is not a valid interface name; use at most 15 characters of A-Z a-z 0-9 _ . = + -."
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
    expr = failedAssertions (withWireguard { peers = fx.exampleGateway.wireguard.peers ++ fx.exampleGateway.wireguard.peers; });
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
      peers = map (p: p // { allowedIPs = [ "0.0.0.0/0" ]; }) fx.exampleGateway.wireguard.peers;
    });
    expected = [
      "hearth.wireguard.peers: a NixOS client cannot use a full tunnel (0.0.0.0/0) with networking.wireguard, whose routes would swallow the tunnel's own packets; use the split tunnel for NixOS clients."
    ];
  }
  {
    name = "assertion: allowlist rule from an unknown source set";
    expr = failedAssertions (withAllowlist { rules = [ (lib.head fx.exampleGateway.allowlist.rules // { from = [ "admins" "ghosts" ]; }) ]; });
    expected = [
      "hearth.allowlist.rules (\"grafana\").from: unknown source set(s) ghosts; add them to hearth.allowlist.sources or run `hearth render` again."
    ];
  }
  {
    name = "assertion: SSH restricted to no sources";
    expr = failedAssertions (withAllowlist { ssh = fx.exampleGateway.allowlist.ssh // { sources = [ ]; }; });
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

  # --- option types reject bad data before any renderer runs ---------------
  { name = "type: listenPort 70000"; throws = (withWireguard { listenPort = 70000; }).hearth.wireguard.listenPort; }
  { name = "type: unknown role"; throws = (withWireguard { role = "router"; }).hearth.wireguard.role; }
  { name = "type: allowlist protocol icmp"; throws = (withAllowlist { rules = [ (lib.head fx.exampleGateway.allowlist.rules // { proto = [ "icmp" ]; }) ]; }).hearth.allowlist.rules; }
  { name = "type: user name with a space"; throws = (withBastion { users = [ { name = "a b"; } ]; }).hearth.bastion.users; }
  { name = "type: TOTP window 0"; throws = (withBastion { totp = fx.exampleGateway.bastion.totp // { window = 0; }; }).hearth.bastion.totp.window; }
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
++ lib.concatMap hostTests hostNames
