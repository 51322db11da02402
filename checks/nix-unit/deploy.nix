# Renderer tests for modules/lib/deploy.nix: the example's generated
# hosts/deploy.nix turned into deploy-rs nodes and a colmena hive, exactly;
# both checked against the tools' own types; every throw.
#
# The type checks below are stubs of the tools' definitions, read from their
# sources (no Nix code copied):
#   deploy-rs interface.json at d5eff7f948535b9c723d60cd8239f8f11ddc90fa
#   (2025-12-18, the pinned rev): node = generic_settings (sshUser, user:
#   string; sshOpts: array of string; fastConnection, autoRollback,
#   magicRollback, interactiveSudo: boolean; confirmTimeout,
#   activationTimeout: integer; tempPath: string) + node_settings
#   (hostname: string, required; profilesOrder: array of string; profiles:
#   name -> generic_settings + profile_settings (path required, profilePath)).
#   colmena src/nix/hive/options.nix at 5e0fbc4dbc50b3a38ecdbcb8d0a5bbe12e3f9a72
#   (0.5.0-pre, the pinned rev), deploymentOptions: targetHost (nullOr str),
#   targetPort (nullOr ints.unsigned), targetUser (nullOr str),
#   allowLocalDeployment, buildOnTarget, replaceUnknownProfiles (bool), tags
#   (listOf str), keys (attrsOf submodule), privilegeEscalationCommand,
#   sshOptions (listOf str). Unknown keys fail, as under the module system.
let
  lib = import ../../modules/lib;
  d = lib.deploy;
  example = import ../../hosts/deploy.nix;
  inherit (builtins)
    all
    attrNames
    attrValues
    elem
    isAttrs
    isBool
    isInt
    isList
    isString
    mapAttrs
    ;

  path = name: "/nix/store/00000000000000000000000000000000-activatable-nixos-system-${name}";
  nodes = (d.deployRs {
    data = example;
    activate = path;
  }).nodes;
  hive = d.colmena {
    data = example;
    nixpkgs = "<nixpkgs>";
    modules = name: [ "modules-of-${name}" ];
  };

  # --- deploy-rs interface.json as a checker --------------------------------
  strs = v: isList v && all isString v;
  generic = {
    sshUser = isString;
    user = isString;
    sshOpts = strs;
    fastConnection = isBool;
    autoRollback = isBool;
    magicRollback = isBool;
    confirmTimeout = isInt;
    activationTimeout = isInt;
    tempPath = isString;
    interactiveSudo = isBool;
  };
  typed = spec: v: isAttrs v && all (k: spec ? ${k} && spec.${k} v.${k}) (attrNames v);
  profile = v: v ? path && typed (generic // { path = x: isString x || isAttrs x; profilePath = isString; }) v;
  deployRsNodeOk =
    v:
    v ? hostname
    && typed (
      generic
      // {
        hostname = isString;
        profilesOrder = strs;
        profiles = p: isAttrs p && all profile (attrValues p);
      }
    ) v;

  # --- colmena deploymentOptions as a checker -------------------------------
  nullOr = t: v: v == null || t v;
  colmenaDeploymentOk = typed {
    targetHost = nullOr isString;
    targetPort = nullOr (v: isInt v && v >= 0);
    targetUser = nullOr isString;
    allowLocalDeployment = isBool;
    buildOnTarget = isBool;
    replaceUnknownProfiles = isBool;
    tags = strs;
    keys = isAttrs;
    privilegeEscalationCommand = strs;
    sshOptions = strs;
  };

  viaBastion = ip: name: {
    hostname = ip;
    sshUser = "root";
    sshOpts = [
      "-J"
      "extgw01"
    ];
    magicRollback = false;
    autoRollback = true;
    profiles.system = {
      user = "root";
      path = path name;
    };
  };
  lanDeployment = ip: {
    targetHost = ip;
    targetPort = 22;
    targetUser = "root";
    tags = [
      "lan"
      "via-bastion"
    ];
    sshOptions = [
      "-J"
      "extgw01"
    ];
  };
  node0 = example.nodes.monitoring01;
in
[
  {
    name = "example: deploy-rs nodes, exactly";
    expr = nodes;
    expected = {
      extgw01 = {
        hostname = "10.69.13.20";
        sshUser = "root";
        sshOpts = [ ];
        magicRollback = true;
        autoRollback = true;
        profiles.system = {
          user = "root";
          path = path "extgw01";
        };
      };
      # desk01 has no LAN address in the example: its name.
      desk01 = viaBastion "desk01" "desk01";
      nas01 = viaBastion "10.69.13.40" "nas01";
      http-proxy = viaBastion "10.69.13.10" "http-proxy";
      jelly01 = viaBastion "10.69.13.12" "jelly01";
      monitoring01 = viaBastion "10.69.13.11" "monitoring01";
      ns1 = viaBastion "10.69.13.5" "ns1";
      ns2 = viaBastion "10.69.13.6" "ns2";
      nzbget-jail = viaBastion "10.69.13.15" "nzbget-jail";
      radarr-jail = viaBastion "10.69.13.14" "radarr-jail";
      sonarr-jail = viaBastion "10.69.13.13" "sonarr-jail";
      vps = {
        hostname = "docker2.t-juice.club";
        sshUser = "root";
        sshOpts = [ ];
        magicRollback = true;
        autoRollback = true;
        profiles.system = {
          user = "root";
          path = path "vps";
        };
      };
    };
  }
  {
    name = "example: colmena hive, exactly";
    expr = hive;
    expected = {
      meta.nixpkgs = "<nixpkgs>";
      extgw01 = {
        imports = [ "modules-of-extgw01" ];
        deployment = {
          targetHost = "10.69.13.20";
          targetPort = 22;
          targetUser = "root";
          tags = [
            "wireguard-gateway"
            "bastion"
          ];
          sshOptions = [ ];
        };
      };
      desk01 = {
        imports = [ "modules-of-desk01" ];
        deployment = lanDeployment "desk01";
      };
      nas01 = {
        imports = [ "modules-of-nas01" ];
        deployment = lanDeployment "10.69.13.40";
      };
      http-proxy = {
        imports = [ "modules-of-http-proxy" ];
        # Tags come from roles: the ingress role replaces `lan`.
        deployment = lanDeployment "10.69.13.10" // {
          tags = [
            "ingress"
            "via-bastion"
          ];
        };
      };
      jelly01 = {
        imports = [ "modules-of-jelly01" ];
        deployment = lanDeployment "10.69.13.12";
      };
      monitoring01 = {
        imports = [ "modules-of-monitoring01" ];
        deployment = lanDeployment "10.69.13.11";
      };
      ns1 = {
        imports = [ "modules-of-ns1" ];
        deployment = lanDeployment "10.69.13.5";
      };
      ns2 = {
        imports = [ "modules-of-ns2" ];
        deployment = lanDeployment "10.69.13.6";
      };
      nzbget-jail = {
        imports = [ "modules-of-nzbget-jail" ];
        deployment = lanDeployment "10.69.13.15";
      };
      radarr-jail = {
        imports = [ "modules-of-radarr-jail" ];
        deployment = lanDeployment "10.69.13.14";
      };
      sonarr-jail = {
        imports = [ "modules-of-sonarr-jail" ];
        deployment = lanDeployment "10.69.13.13";
      };
      vps = {
        imports = [ "modules-of-vps" ];
        deployment = {
          targetHost = "docker2.t-juice.club";
          targetPort = 22;
          targetUser = "root";
          tags = [ "wireguard-hub" ];
          sshOptions = [ ];
        };
      };
    };
  }
  {
    name = "every deploy-rs node matches deploy-rs's interface.json";
    expr = all deployRsNodeOk (attrValues nodes);
    expected = true;
  }
  {
    name = "every colmena deployment matches colmena's deploymentOptions";
    expr = all (n: colmenaDeploymentOk n.deployment) (attrValues (removeAttrs hive [ "meta" ]));
    expected = true;
  }
  {
    name = "the type stubs can fail: a misspelt option and a wrong type are caught";
    expr = [
      (deployRsNodeOk (nodes.vps // { sshOptions = [ ]; }))
      (deployRsNodeOk (nodes.vps // { magicRollback = "yes"; }))
      (deployRsNodeOk (removeAttrs nodes.vps [ "hostname" ]))
      (colmenaDeploymentOk (hive.vps.deployment // { targetPort = "22"; }))
      (colmenaDeploymentOk (hive.vps.deployment // { sshOpts = [ ]; }))
    ];
    expected = [
      false
      false
      false
      false
      false
    ];
  }
  {
    name = "magic rollback: on for the gateway/bastion (and the hub, by override), off elsewhere";
    expr = mapAttrs (_: n: n.magicRollback) nodes;
    expected = {
      extgw01 = true;
      vps = true;
      desk01 = false;
      nas01 = false;
      http-proxy = false;
      jelly01 = false;
      monitoring01 = false;
      ns1 = false;
      ns2 = false;
      nzbget-jail = false;
      radarr-jail = false;
      sonarr-jail = false;
    };
  }
  {
    name = "a non-default port goes into sshOpts (deploy-rs) and targetPort (colmena)";
    expr = [
      (d.sshOpts (node0 // { port = 2222; }))
      (d.colmenaDeployment "m" (node0 // { port = 2222; })).targetPort
    ];
    expected = [
      [
        "-p"
        "2222"
        "-J"
        "extgw01"
      ]
      2222
    ];
  }
  {
    name = "every example node names a bastion jump only for LAN hosts";
    expr = elem "extgw01" (map (n: n.jumpHost) (attrValues example.nodes)) && example.nodes.extgw01.jumpHost == null;
    expected = true;
  }
  {
    name = "hostname that is an ssh option";
    throws = d.deployRsNode {
      name = "m";
      node = node0 // { hostname = "-oProxyCommand=reboot"; };
      path = "/x";
    };
    message = "hostname must be a hostname or IP address";
  }
  {
    name = "hostname with a space";
    throws = d.colmenaDeployment "m" (node0 // { hostname = "a b"; });
    message = "hostname must be a hostname or IP address";
  }
  {
    name = "bad ssh user";
    throws = d.colmenaDeployment "m" (node0 // { sshUser = "root; reboot"; });
    message = "sshUser must be a user name";
  }
  {
    name = "port out of range";
    throws = d.colmenaDeployment "m" (node0 // { port = 70000; });
    message = "port must be 1-65535";
  }
  {
    name = "jump host that is an option";
    throws = d.colmenaDeployment "m" (node0 // { jumpHost = "-oProxyCommand=x"; });
    message = "jumpHost must be null or a host alias";
  }
  {
    name = "magicRollback not a boolean";
    throws = d.colmenaDeployment "m" (node0 // { magicRollback = "yes"; });
    message = "magicRollback must be a boolean";
  }
  {
    name = "tags not strings";
    throws = d.colmenaDeployment "m" (node0 // { tags = [ 1 ]; });
    message = "tags must be a list of strings";
  }
  {
    name = "unknown or missing field (hand-edited file)";
    throws = d.colmenaDeployment "m" (removeAttrs node0 [ "port" ] // { sshPort = 22; });
    message = "expected exactly the fields";
  }
]
