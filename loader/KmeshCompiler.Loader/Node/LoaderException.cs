namespace KmeshCompiler.Loader.Node;

/// <summary>Why the loader refused to act (a kernel call that failed is a <see cref="BpfException"/>).</summary>
public enum LoaderError
{
    /// <summary>A pinned object differs from what this kmeshc would create (type, sizes, flags).</summary>
    PinMismatch,
    /// <summary>The pinned programs have another table ABI than this kmeshc.</summary>
    AbiMismatch,
    /// <summary>The image does not fit the layout (another ABI, a section of the wrong shape or size).</summary>
    BadImage,
    /// <summary>Another loader holds the pin directory.</summary>
    Busy,
    /// <summary>Nothing is loaded in the pin directory.</summary>
    NotLoaded,
    /// <summary>The live maps do not hold what the generation record says.</summary>
    Inconsistent,
    /// <summary>The pin directory cannot be used (not on bpffs, not a directory).</summary>
    PinDirectory,
}

public sealed class LoaderException(LoaderError error, string message) : Exception(message)
{
    public LoaderError Error { get; } = error;
}
