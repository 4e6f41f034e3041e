using System.Diagnostics;
using System.Runtime.InteropServices;
using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader.Node;

/// <summary>A node's data plane pinned under a bpffs directory (default /sys/fs/bpf/kmesh), held with
/// the directory's lock: loads images into it by generations, reads it back, attaches its programs
/// through pinned links, and removes it. The design and why it is safe: loader/README.md.</summary>
public sealed class NodeLoader : IDisposable
{
    public const string DefaultPinDir = "/sys/fs/bpf/kmesh";
    public const string LinksDir = "links";

    private readonly BpfFd _lock;

    public string PinDir { get; }
    public NodeObjects Objects { get; }
    public FaultPoint Fault { get; }

    private NodeLoader(string dir, BpfFd lockFd, NodeObjects objects, FaultPoint fault)
    {
        PinDir = dir;
        _lock = lockFd;
        Objects = objects;
        Fault = fault;
    }

    /// <summary>Takes the pin directory's lock (waiting up to <paramref name="wait"/>) and opens its
    /// pins; with <paramref name="create"/>, a directory that does not exist is created (programs
    /// loaded, every object pinned in a temporary directory that is then renamed into place, so a
    /// directory is either complete or absent).</summary>
    public static NodeLoader Open(string pinDir, TimeSpan wait, bool create, FaultPoint? fault = null)
    {
        fault ??= FaultPoint.FromEnvironment();
        string dir = Path.GetFullPath(pinDir);
        string parent = Path.GetDirectoryName(dir) ?? throw new LoaderException(LoaderError.PinDirectory, $"{dir} has no parent directory");
        EnsureBpffs(parent, create);
        var lockFd = Lock(parent, dir, wait);
        try
        {
            NodeObjects objects;
            if (Directory.Exists(dir)) objects = NodeObjects.OpenPinned(dir);
            else if (!create) throw new LoaderException(LoaderError.NotLoaded, $"nothing is loaded: {dir} does not exist (kmeshc load IMAGE creates it)");
            else objects = Create(dir, fault);
            return new NodeLoader(dir, lockFd, objects, fault);
        }
        catch
        {
            lockFd.Dispose();
            throw;
        }
    }

    private static NodeObjects Create(string dir, FaultPoint fault)
    {
        foreach (var stale in Directory.EnumerateDirectories(Path.GetDirectoryName(dir)!, Path.GetFileName(dir) + "-new-*"))
            RemoveTree(stale);
        var objects = NodeObjects.Load();
        try
        {
            new Publisher(objects, fault).InitState();
            string tmp = $"{dir}-new-{Environment.ProcessId}";
            Directory.CreateDirectory(tmp);
            Libc.Chmod(tmp, Convert.ToUInt32("700", 8));
            objects.Pin(tmp, fault.Wrote);
            if (Libc.Rename(tmp, dir) != 0)
                throw new BpfException($"rename {tmp} to {dir}", Marshal.GetLastPInvokeError());
            fault.Wrote();
            return objects;
        }
        catch
        {
            objects.Dispose();
            throw;
        }
    }

    /// <summary>The directory above the pins must be on bpffs; /sys/fs/bpf is mounted when it is not.</summary>
    private static void EnsureBpffs(string parent, bool mayMount)
    {
        if (MountTypeOf(parent) == "bpf") return;
        if (mayMount && parent == "/sys/fs/bpf" && Directory.Exists(parent))
        {
            if (Libc.Mount("bpf", parent, "bpf", 0, "mode=0700") != 0)
                throw new BpfException($"mount bpffs at {parent}", Marshal.GetLastPInvokeError());
            return;
        }
        throw new LoaderException(LoaderError.PinDirectory,
            Directory.Exists(parent) ? $"{parent} is not on a bpffs mount (mount -t bpf bpf {parent})" : $"{parent} does not exist");
    }

    /// <summary>The filesystem type of the mount that holds <paramref name="path"/> (/proc/self/mountinfo).</summary>
    public static string? MountTypeOf(string path)
    {
        string? best = null, type = null;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var parts = line.Split(' ');
            int dash = Array.IndexOf(parts, "-");
            if (parts.Length < 5 || dash < 0 || dash + 1 >= parts.Length) continue;
            string mountPoint = parts[4].Replace("\\040", " ");
            bool under = path == mountPoint || path.StartsWith(mountPoint.TrimEnd('/') + "/", StringComparison.Ordinal);
            if (under && (best is null || mountPoint.Length >= best.Length)) { best = mountPoint; type = parts[dash + 1]; }
        }
        return type;
    }

    /// <summary>flock(2) on the directory that holds the pins: one loader at a time per directory.</summary>
    private static BpfFd Lock(string parent, string dir, TimeSpan wait)
    {
        int fd = Libc.Open(parent, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0) throw new BpfException($"open {parent}", Marshal.GetLastPInvokeError());
        var h = new BpfFd(fd);
        var clock = Stopwatch.StartNew();
        while (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            int e = Marshal.GetLastPInvokeError();
            if (e != Errno.EAGAIN && e != Errno.EINTR)
            {
                h.Dispose();
                throw new BpfException($"lock {parent}", e);
            }
            if (clock.Elapsed >= wait)
            {
                h.Dispose();
                throw new LoaderException(LoaderError.Busy, $"another loader holds {dir} (the lock on {parent}); waited {wait.TotalSeconds:0.#} s (--wait SECONDS to wait longer)");
            }
            Thread.Sleep(20);
        }
        return h;
    }

    public PublishReport Load(ImageFile image, string? contentHash = null, SlotMemory? memory = null) => new Publisher(Objects, Fault, memory).Publish(image, contentHash);

    public LiveImage? Dump() => LiveImage.Read(Objects);

    public NodeCounters Counters() => NodeCounters.Read(Objects);

    /// <summary>Attaches the XDP entry program to an interface through a link pinned at
    /// links/xdp-IFACE; when that link exists its program is replaced in place (bpf_link_update).</summary>
    public string AttachXdp(string iface, XdpMode mode)
    {
        uint ifindex = Libc.IfNameToIndex(iface);
        if (ifindex == 0) throw new BpfException($"find interface {iface}", Errno.ENODEV);
        return AttachLink($"xdp-{iface}", Objects.Program(Programs.Entry), (int)ifindex, BpfAttachType.Xdp, (uint)mode, $"interface {iface}");
    }

    /// <summary>Attaches connect4 and connect6 to a cgroup v2 directory through pinned links.</summary>
    public IReadOnlyList<string> AttachCgroup(string cgroupPath)
    {
        int dfd = Libc.Open(cgroupPath, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (dfd < 0) throw new BpfException($"open cgroup {cgroupPath}", Marshal.GetLastPInvokeError());
        using var cg = new BpfFd(dfd);
        string id = CgroupLinkName(cgroupPath);
        return
        [
            AttachLink($"{id}-connect4", Objects.Program(Programs.Connect4), cg.Value, BpfAttachType.CgroupInet4Connect, 0, $"cgroup {cgroupPath}"),
            AttachLink($"{id}-connect6", Objects.Program(Programs.Connect6), cg.Value, BpfAttachType.CgroupInet6Connect, 0, $"cgroup {cgroupPath}"),
        ];
    }

    private static string CgroupLinkName(string cgroupPath) =>
        "cgroup-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(cgroupPath).TrimEnd('/'))))[..16];

    private unsafe string AttachLink(string name, BpfProgram prog, int target, BpfAttachType type, uint flags, string what)
    {
        string links = Path.Combine(PinDir, LinksDir);
        Directory.CreateDirectory(links);
        string path = Path.Combine(links, name);
        if (File.Exists(path))
        {
            int lfd = LibBpf.ObjGet(path);
            BpfException.Check(lfd, $"open pinned link {path}");
            using var link = new BpfFd(lfd);
            BpfException.Check(LibBpf.LinkUpdate(link.Value, prog.Fd.Value, null), $"replace the program of link {path} ({what})");
            Fault.Wrote();
            return path;
        }
        var opts = new LibBpf.LinkCreateOpts { Sz = (nuint)sizeof(LibBpf.LinkCreateOpts), Flags = flags };
        int fd = LibBpf.LinkCreate(prog.Fd.Value, target, (int)type, &opts);
        BpfException.Check(fd, $"attach {prog.Name} to {what}");
        using var created = new BpfFd(fd);
        Fault.Wrote();
        BpfException.Check(LibBpf.ObjPin(created.Value, path), $"pin link {path}");
        Fault.Wrote();
        return path;
    }

    /// <summary>Detaches and removes the pinned links of an interface (XDP) or a cgroup; false when
    /// there was none.</summary>
    public bool Detach(string? iface, string? cgroupPath)
    {
        string links = Path.Combine(PinDir, LinksDir);
        var names = iface is not null ? [$"xdp-{iface}"] : new[] { $"{CgroupLinkName(cgroupPath!)}-connect4", $"{CgroupLinkName(cgroupPath!)}-connect6" };
        bool any = false;
        foreach (var n in names)
        {
            string path = Path.Combine(links, n);
            if (!File.Exists(path)) continue;
            DetachLink(path);
            any = true;
        }
        return any;
    }

    private static void DetachLink(string path)
    {
        int fd = LibBpf.ObjGet(path);
        if (fd >= 0)
        {
            using var link = new BpfFd(fd);
            LibBpf.LinkDetach(link.Value);
        }
        File.Delete(path);
    }

    /// <summary>The pinned links, by name.</summary>
    public IReadOnlyList<string> Links()
    {
        string links = Path.Combine(PinDir, LinksDir);
        return Directory.Exists(links) ? [.. Directory.EnumerateFiles(links).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)] : [];
    }

    /// <summary>Detaches every link and removes every pinned object and the directory (the clean
    /// shutdown). False when there was nothing to remove.</summary>
    public static bool Unload(string pinDir, TimeSpan wait)
    {
        string dir = Path.GetFullPath(pinDir);
        string parent = Path.GetDirectoryName(dir) ?? dir;
        if (!Directory.Exists(parent)) return false;
        using var lockFd = Lock(parent, dir, wait);
        bool any = false;
        foreach (var stale in Directory.EnumerateDirectories(parent, Path.GetFileName(dir) + "-new-*")) { RemoveTree(stale); any = true; }
        if (!Directory.Exists(dir)) return any;
        string links = Path.Combine(dir, LinksDir);
        if (Directory.Exists(links))
            foreach (var l in Directory.EnumerateFiles(links)) DetachLink(l);
        RemoveTree(dir);
        return true;
    }

    private static void RemoveTree(string dir)
    {
        foreach (var sub in Directory.EnumerateDirectories(dir)) RemoveTree(sub);
        foreach (var f in Directory.EnumerateFiles(dir)) File.Delete(f);
        Directory.Delete(dir);
    }

    public void Dispose()
    {
        Objects.Dispose();
        _lock.Dispose();
    }
}
