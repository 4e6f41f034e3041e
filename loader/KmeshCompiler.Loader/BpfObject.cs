using System.Runtime.InteropServices;
using System.Text;
using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader;

/// <summary>Options applied between opening an object file and loading it (like cilium/ebpf's
/// CollectionSpec edits): map sizes, maps to reuse from pins, programs to skip.</summary>
public sealed class ObjectLoadOptions
{
    /// <summary>Map name → max entries to set before loading.</summary>
    public Dictionary<string, int> MaxEntries { get; } = new(StringComparer.Ordinal);

    /// <summary>Map name → an existing map to use instead of creating one (must match the definition).</summary>
    public Dictionary<string, BpfMap> ReuseMaps { get; } = new(StringComparer.Ordinal);

    /// <summary>Programs not to load.</summary>
    public HashSet<string> SkipPrograms { get; } = new(StringComparer.Ordinal);

    /// <summary>Bytes kept of the verifier's log when a load fails.</summary>
    public int LogSize { get; init; } = 1 << 20;
}

/// <summary>A compiled BPF object file (clang -target bpf), opened and loaded with libbpf. The maps and
/// programs it hands out are closed with it; pin them, or take <see cref="BpfFd.Duplicate"/>, to keep
/// them longer.</summary>
public sealed unsafe class BpfObject : IDisposable
{
    private nint _obj;
    private readonly Dictionary<string, BpfProgram> _programs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BpfMap> _maps = new(StringComparer.Ordinal);

    public string Path { get; }

    private BpfObject(nint obj, string path)
    {
        _obj = obj;
        Path = path;
    }

    /// <summary>Opens and loads <paramref name="path"/>: the verifier's log is part of the exception
    /// when the kernel refuses a program.</summary>
    public static BpfObject Load(string path, ObjectLoadOptions? options = null)
    {
        options ??= new ObjectLoadOptions();
        if (!File.Exists(path)) throw new BpfException($"open BPF object {path}", Errno.ENOENT);
        byte* log = (byte*)NativeMemory.AllocZeroed((nuint)options.LogSize);
        try
        {
            var opts = new LibBpf.ObjectOpenOpts
            {
                Sz = (nuint)sizeof(LibBpf.ObjectOpenOpts),
                KernelLogBuf = log,
                KernelLogSize = (nuint)options.LogSize,
                KernelLogLevel = 0,
            };
            nint obj = LibBpf.ObjectOpenFile(path, &opts);
            if (obj == 0) throw new BpfException($"open BPF object {path}", Marshal.GetLastPInvokeError());
            var o = new BpfObject(obj, path);
            try
            {
                for (nint m = LibBpf.ObjectNextMap(obj, 0); m != 0; m = LibBpf.ObjectNextMap(obj, m))
                {
                    string name = LibBpf.Str(LibBpf.MapName(m)) ?? "";
                    if (options.MaxEntries.TryGetValue(name, out int max))
                        BpfException.Check(LibBpf.MapSetMaxEntries(m, (uint)max), $"set max entries of map {name}");
                    if (options.ReuseMaps.TryGetValue(name, out var reuse))
                        BpfException.Check(LibBpf.MapReuseFd(m, reuse.Fd.Value), $"reuse map {name}");
                }
                for (nint p = LibBpf.ObjectNextProgram(obj, 0); p != 0; p = LibBpf.ObjectNextProgram(obj, p))
                {
                    string name = LibBpf.Str(LibBpf.ProgramName(p)) ?? "";
                    if (options.SkipPrograms.Contains(name)) LibBpf.ProgramSetAutoload(p, false);
                }
                int rc = LibBpf.ObjectLoad(obj);
                if (rc < 0)
                {
                    string text = Marshal.PtrToStringUTF8((nint)log) ?? "";
                    throw new BpfException($"load BPF object {path}", -rc, Tail(text, 8000));
                }
                o.Collect(options);
                return o;
            }
            catch
            {
                o.Dispose();
                throw;
            }
        }
        finally
        {
            NativeMemory.Free(log);
        }
    }

    private static string Tail(string s, int n) => s.Length <= n ? s : "...\n" + s[^n..];

    private void Collect(ObjectLoadOptions options)
    {
        for (nint p = LibBpf.ObjectNextProgram(_obj, 0); p != 0; p = LibBpf.ObjectNextProgram(_obj, p))
        {
            string name = LibBpf.Str(LibBpf.ProgramName(p)) ?? "";
            if (options.SkipPrograms.Contains(name)) continue;
            int fd = LibBpf.ProgramFd(p);
            BpfException.Check(fd, $"program {name}");
            var dup = DupRaw(fd, name);
            _programs[name] = new BpfProgram(dup, name, BpfProgram.Info(dup).Type);
        }
        for (nint m = LibBpf.ObjectNextMap(_obj, 0); m != 0; m = LibBpf.ObjectNextMap(_obj, m))
        {
            string name = LibBpf.Str(LibBpf.MapName(m)) ?? "";
            int fd = LibBpf.MapFd(m);
            if (fd < 0) continue; // .rodata and friends may be absent
            _maps[name] = new BpfMap(DupRaw(fd, name), name, (BpfMapType)LibBpf.MapType(m),
                (int)LibBpf.MapKeySize(m), (int)LibBpf.MapValueSize(m), (int)LibBpf.MapMaxEntries(m), MapFlags.None);
        }
    }

    private static BpfFd DupRaw(int fd, string what)
    {
        int d = Libc.Fcntl(fd, Libc.F_DUPFD_CLOEXEC, 3);
        if (d < 0) throw new BpfException($"dup {what}", Marshal.GetLastPInvokeError());
        return new BpfFd(d);
    }

    public IReadOnlyDictionary<string, BpfProgram> Programs => _programs;
    public IReadOnlyDictionary<string, BpfMap> Maps => _maps;

    public BpfProgram Program(string name) =>
        _programs.TryGetValue(name, out var p) ? p : throw new BpfException($"find program {name} in {Path}", Errno.ENOENT);

    public BpfMap Map(string name) =>
        _maps.TryGetValue(name, out var m) ? m : throw new BpfException($"find map {name} in {Path}", Errno.ENOENT);

    /// <summary>Closes libbpf's object and every program and map handed out.</summary>
    public void Dispose()
    {
        foreach (var p in _programs.Values) p.Dispose();
        foreach (var m in _maps.Values) m.Dispose();
        if (_obj != 0) LibBpf.ObjectClose(_obj);
        _obj = 0;
    }
}
