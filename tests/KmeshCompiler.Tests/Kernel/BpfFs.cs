using KmeshCompiler.Loader;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>A private bpffs instance for a test (see <see cref="PrivateBpfFs"/>), so tests never touch
/// /sys/fs/bpf.</summary>
public sealed class BpfFs : IDisposable
{
    private readonly PrivateBpfFs _fs = new();

    public string Path => _fs.Path;

    public string this[string name] => _fs[name];

    public void Dispose() => _fs.Dispose();
}
