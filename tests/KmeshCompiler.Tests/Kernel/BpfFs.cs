namespace KmeshCompiler.Tests.Kernel;

/// <summary>A private bpffs instance mounted on a temporary directory, so tests never touch
/// /sys/fs/bpf. Dispose unmounts it and removes the directory.</summary>
public sealed class BpfFs : IDisposable
{
    public string Path { get; }

    public BpfFs()
    {
        Path = Directory.CreateTempSubdirectory("kmesh-bpffs-").FullName;
        KernelEnvironment.Run("mount", "-t", "bpf", "bpf", Path);
    }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { KernelEnvironment.Run("umount", Path); } catch (InvalidOperationException) { }
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
