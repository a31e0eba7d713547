// cordon – built-in lists: credentials hidden by default, environment passed by default (one list each, with reasons).

/**
 * Credential and history paths under the caller's home, masked unless a profile lists them in
 * `filesystem.allowSecrets`. Invariant 5 of design.md: no secrets by default.
 */
export const HOME_SECRETS: readonly string[] = [
  '.ssh', // ssh keys and agent config
  '.aws', // AWS credentials
  '.gnupg', // GPG keys
  '.azure', // Azure CLI tokens
  '.kube', // kubeconfig with cluster credentials
  '.docker', // docker config.json carries registry auth
  '.config/gh', // GitHub CLI token
  '.config/hub',
  '.config/gcloud', // Google Cloud credentials
  '.config/op', // 1Password CLI
  '.config/rclone',
  '.local/share/keyrings',
  '.password-store',
  '.netrc', // machine/login/password for curl, git, ftp
  '.git-credentials', // git credential store
  '.npmrc', // npm auth tokens
  '.pypirc', // PyPI upload tokens
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.vault-token',
  '.terraform.d/credentials.tfrc.json',
  '.pgpass', // PostgreSQL passwords
  '.my.cnf', // MySQL client passwords
  '.s3cfg', // s3cmd keys
  '.boto', // gsutil/boto keys
  '.oci', // Oracle Cloud keys
  '.config/containers/auth.json', // podman/buildah registry auth
  '.m2/settings.xml', // Maven repository passwords
  '.gradle/gradle.properties', // Gradle publishing tokens
  '.gem/credentials', // RubyGems API key
  '.config/composer/auth.json', // Composer tokens
  '.composer/auth.json',
  '.cache/huggingface/token', // Hugging Face token
  '.config/github-copilot', // Copilot OAuth token
  '.claude/.credentials.json', // coding agents' own API credentials
  '.codex/auth.json',
  '.1password', // 1Password SSH agent socket (a path socket stays connectable in a read-only tree)
  '.bitwarden-ssh-agent.sock', // Bitwarden SSH agent socket
  '.mozilla', // browser profiles: cookies and saved logins
  '.config/google-chrome',
  '.config/chromium',
  '.config/BraveSoftware',
  '.bash_history', // shell and REPL histories often hold pasted secrets
  '.zsh_history',
  '.history',
  '.sh_history',
  '.python_history',
  '.node_repl_history',
  '.psql_history',
  '.mysql_history',
  '.sqlite_history',
  '.lesshst',
  '.viminfo',
  '.local/share/fish/fish_history',
  '.config/fish/fish_history',
  '.irb_history',
  '.rediscli_history',
];

/** System files that hold secrets; root-owned, so masked for a caller running as root too. */
export const SYSTEM_SECRETS: readonly string[] = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/security/opasswd',
  '/etc/ssh/ssh_host_*_key',
  '/etc/ssl/private',
  // Root-only on the host, but a root caller runs the sandbox as uid 0 and owns them.
  '/etc/krb5.keytab',
  '/etc/pki/tls/private',
  '/etc/letsencrypt',
  '/etc/wireguard',
  '/etc/NetworkManager/system-connections',
  '/etc/ipsec.secrets',
  '/etc/ppp/chap-secrets',
  '/etc/ppp/pap-secrets',
  '/etc/mysql/debian.cnf',
  '/etc/kubernetes/admin.conf',
  '/etc/kubernetes/pki',
  '/etc/rancher/k3s/k3s.yaml',
  // Container-engine and system-bus sockets: reachable only where a profile reads /run (or /), but
  // connecting to one is no read: the docker socket alone is root on the host for its group.
  '/run/docker.sock',
  '/run/containerd/containerd.sock',
  '/run/podman/podman.sock',
  '/run/crio/crio.sock',
  '/run/dbus/system_bus_socket',
  '/var/run/docker.sock',
];

/** Globs masked inside every readable or writable tree (dotenv files carry API keys). */
export const TREE_SECRET_GLOBS: readonly string[] = ['**/.env', '**/.env.*'];

/**
 * Directories the built-in dotenv walk does not enter: git's object store and installed packages
 * are not where a project keeps its own .env, and they hold most directories of a typical repository
 * (this one: 728 of 797), which the walk would otherwise stat before every command.
 */
export const TREE_SECRET_PRUNE: readonly string[] = ['.git', 'node_modules'];

/**
 * Dotenv files in the (read-only) home, to a bounded depth: other projects' `.env` files live at
 * ~/proj/.env or ~/src/org/proj/.env. Bounded because a home can hold hundreds of thousands of files;
 * the scan prunes by depth and is kept current by inotify (or one stat per directory, dircache.ts).
 */
export const HOME_SECRET_GLOBS: readonly string[] = [1, 2, 3].flatMap((depth) =>
  ['.env', '.env.*'].map((name) => [...Array<string>(depth).fill('*'), name].join('/')),
);

/** Environment variables passed from the caller by default (exact names or PREFIX_*). */
export const DEFAULT_ENV_ALLOW: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'TERM',
  'COLORTERM',
  'TZ',
  'NO_COLOR',
  'FORCE_COLOR',
  'CI',
];

/** Paths the sandbox needs to be useful at all, read-only, when a profile lists no `read`. */
export const SYSTEM_READ: readonly string[] = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];

/** Default size of the private /tmp. */
export const DEFAULT_TMP_BYTES = 1024 * 1024 * 1024;
/** Default cap on each of stdout and stderr when capturing. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
