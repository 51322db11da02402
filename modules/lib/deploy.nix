# The deploy renderer (builtins only): hosts/deploy.nix, the plain data
# `hearth render` writes, -> deploy-rs nodes and a colmena hive. flake.nix
# (and a flake made by `hearth init`) passes in what only it has: the
# activation path of each host (deploy-rs.lib.<system>.activate.nixos of
# nixosConfigurations.<host>), nixpkgs, and each host's modules.
#
# Types follow the tools' own definitions, read from their sources:
#   deploy-rs interface.json at d5eff7f9 (2025-12-18): node `hostname`
#     (string, required), generic settings `sshUser` (string), `sshOpts`
#     (array of strings), `magicRollback`/`autoRollback` (boolean),
#     profiles.<name>.{path (required), user}.
#   colmena src/nix/hive/options.nix at 5e0fbc4d (0.5.0-pre, 2025-08-03):
#     deployment.targetHost (nullOr str), targetPort (nullOr ints.unsigned),
#     targetUser (nullOr str), tags (listOf str), sshOptions (listOf str).
let
  inherit (builtins)
    all
    attrNames
    concatStringsSep
    isBool
    isInt
    isList
    isString
    mapAttrs
    match
    ;

  fields = [
    "hostname"
    "jumpHost"
    "magicRollback"
    "port"
    "sshUser"
    "tags"
  ];

  # One node of hosts/deploy.nix, checked (hearth check rejects all of these
  # first; a hand-edited file fails here with the node's name).
  checkNode =
    name: node:
    let
      bad = msg: throw "hearth.deploy: node `${name}`: ${msg}";
      hostLike = s: isString s && match "[A-Za-z0-9][A-Za-z0-9.:-]*" s != null;
    in
    if attrNames node != fields then
      bad "expected exactly the fields ${concatStringsSep ", " fields}; run `hearth render`"
    else if !hostLike node.hostname then
      bad "hostname must be a hostname or IP address (not starting with `-`)"
    else if !(isString node.sshUser && match "[a-z_][a-z0-9_-]*" node.sshUser != null) then
      bad "sshUser must be a user name"
    else if !(isInt node.port && node.port > 0 && node.port < 65536) then
      bad "port must be 1-65535"
    else if !(node.jumpHost == null || hostLike node.jumpHost) then
      bad "jumpHost must be null or a host alias"
    else if !isBool node.magicRollback then
      bad "magicRollback must be a boolean"
    else if !(isList node.tags && all isString node.tags) then
      bad "tags must be a list of strings"
    else
      node;

  # ssh options for the jump through the bastion: `-J <alias>` resolves the
  # alias with the user's ~/.ssh/config (`hearth ssh-config`: HostName,
  # Port, User, and the ControlMaster that makes one TOTP prompt serve a
  # whole deploy).
  jumpOpts = node: if node.jumpHost == null then [ ] else [ "-J" node.jumpHost ];

  # deploy-rs has no port setting: the port goes into sshOpts.
  sshOpts = node: (if node.port == 22 then [ ] else [ "-p" (toString node.port) ]) ++ jumpOpts node;

  deployRsNode =
    {
      name,
      node,
      path,
    }:
    let
      n = checkNode name node;
    in
    {
      inherit (n) hostname sshUser magicRollback;
      sshOpts = sshOpts n;
      # Without magic rollback a failed activation still rolls back.
      autoRollback = true;
      profiles.system = {
        user = "root";
        inherit path;
      };
    };

  colmenaDeployment =
    name: node:
    let
      n = checkNode name node;
    in
    {
      targetHost = n.hostname;
      targetPort = n.port;
      targetUser = n.sshUser;
      inherit (n) tags;
      sshOptions = jumpOpts n;
    };
in
{
  inherit
    checkNode
    sshOpts
    deployRsNode
    colmenaDeployment
    ;

  # deploy-rs's `deploy` output. `activate name` is the host's activation
  # path (deploy-rs.lib.<system>.activate.nixos nixosConfigurations.<name>).
  deployRs =
    { data, activate }:
    {
      nodes = mapAttrs (
        name: node:
        deployRsNode {
          inherit name node;
          path = activate name;
        }
      ) data.nodes;
    };

  # colmena's hive (the `colmena` output; `colmena.lib.makeHive` of it is
  # `colmenaHive`). `modules name` is the host's list of NixOS modules.
  colmena =
    {
      data,
      nixpkgs,
      modules,
    }:
    {
      meta.nixpkgs = nixpkgs;
    }
    // mapAttrs (name: node: {
      imports = modules name;
      deployment = colmenaDeployment name node;
    }) data.nodes;
}
