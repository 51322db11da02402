# Renders the bastion's sshd settings from `hearth.bastion`: key plus TOTP
# (`AuthenticationMethods publickey,keyboard-interactive`, the second step
# through PAM, see ./pam.nix), no passwords, no root, AllowUsers from the
# inventory, TCP forwarding on for ProxyJump. builtins only.
#
# `settings` is what modules/bastion.nix puts into `services.openssh.settings`;
# `configText` is the same as sshd_config lines for `hearth preview` and the
# lab's sshd.
#
# The user CA (`cfg.userCA`): its public key is written by the NixOS module to
# `cfg.userCA.keyFile`, default /etc/ssh/hearth-user-ca.pub. The generated
# hearth.nix does not set keyFile; a consumer that keeps the file elsewhere
# (the lab) passes `cfg // { userCA = cfg.userCA // { keyFile = ...; }; }`.
let
  h = import ../util/ipv4.nix;
  inherit (builtins)
    attrNames
    concatMap
    concatStringsSep
    isBool
    isInt
    isList
    isString
    map
    match
    ;

  defaultCAKeyFile = "/etc/ssh/hearth-user-ca.pub";

  checkUser = u: h.checkRule "hearth.bastion.users" "userName" u.name;

  settings =
    cfg:
    let
      users = map checkUser cfg.users;
      # sshd wants CIDRs (not ranges): validate, keep them as written.
      sources = map (a: builtins.seq (h.parseCidr "hearth.bastion.allowedSources" a) a) cfg.allowedSources;
      caFile = cfg.userCA.keyFile or defaultCAKeyFile;
    in
    if users == [ ] then
      throw "hearth: hearth.bastion.users is empty: nobody could log in; add a user with `hearth user add`"
    else
      {
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = true;
        PermitRootLogin = "no";
        AuthenticationMethods = "publickey,keyboard-interactive";
        # USER@CIDR: sshd itself refuses users from outside the allowed
        # networks too (the firewall is the first line).
        AllowUsers = if sources == [ ] then users else concatMap (u: map (s: "${u}@${s}") sources) users;
        MaxAuthTries = h.checkInt "hearth.bastion.maxAuthTries" 1 100 cfg.maxAuthTries;
        LoginGraceTime = h.checkInt "hearth.bastion.loginGraceTime" 1 3600 cfg.loginGraceTime;
        AllowAgentForwarding = false;
        X11Forwarding = false;
        AllowTcpForwarding = "yes";
        UsePAM = true;
        # VERBOSE logs the key fingerprint of every accepted/failed key.
        LogLevel = "VERBOSE";
      }
      // (
        if cfg.userCA == null then
          { }
        else if isString caFile && match "/[A-Za-z0-9_./-]+" caFile != null then
          { TrustedUserCAKeys = caFile; }
        else
          throw "hearth: hearth.bastion.userCA.keyFile: ${h.show caFile} is not an absolute path"
      );

  value =
    v:
    if isBool v then
      (if v then "yes" else "no")
    else if isInt v then
      toString v
    else if isList v then
      concatStringsSep " " v
    else
      v;

  configText =
    cfg:
    let
      s = settings cfg;
    in
    concatStringsSep "" (map (k: "${k} ${value s.${k}}\n") (attrNames s));
in
{
  inherit settings configText;
}
