"""Type stubs for the Rust extension ``btfx._native``."""

import os
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    TypedDict,
    Union,
    final,
)

__all__ = [
    "Btf",
    "Type",
    "Member",
    "EnumValue",
    "Param",
    "VarSecinfo",
    "BaseIndex",
    "BaseMap",
    "RebaseResult",
    "Equivalence",
    "rebase",
    "detach_btf",
    "retarget_btf",
    "equivalent",
    "btf_ids_parse",
    "btf_ids_check",
    "btf_ids_fixup",
    "RetargetTarget",
    "retarget_module_bytes",
    "retarget_files_native",
    "module_open",
    "compress",
    "elf_replace_sections",
    "__version__",
]

__version__: str

_PathLike = Union[str, "os.PathLike[str]"]
_ByteOrder = Literal["little", "big", "native"]

# The dict returned by ``Btf.header`` (a plain dict at runtime).
class _Header(TypedDict):
    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    layout_off: Optional[int]  # None with the 24-byte header
    layout_len: Optional[int]

@final
class Member:
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> int: ...
    @property
    def bits_offset(self) -> int: ...
    @property
    def bitfield_size(self) -> int: ...

@final
class EnumValue:
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

@final
class Param:
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> int: ...

@final
class VarSecinfo:
    @property
    def type(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def size(self) -> int: ...

@final
class Type:
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def name_off(self) -> int: ...
    @property
    def kind_flag(self) -> bool: ...
    @property
    def vlen(self) -> int: ...
    @property
    def size(self) -> Optional[int]: ...
    @property
    def type(self) -> Optional[int]: ...
    @property
    def bits(self) -> Optional[int]: ...
    @property
    def bits_offset(self) -> Optional[int]: ...
    @property
    def encoding(self) -> Optional[str]: ...
    @property
    def index_type(self) -> Optional[int]: ...
    @property
    def nelems(self) -> Optional[int]: ...
    @property
    def members(self) -> Optional[List[Member]]: ...
    @property
    def values(self) -> Optional[List[EnumValue]]: ...
    @property
    def params(self) -> Optional[List[Param]]: ...
    @property
    def vars(self) -> Optional[List[VarSecinfo]]: ...
    @property
    def linkage(self) -> Optional[str]: ...
    @property
    def fwd_kind(self) -> Optional[str]: ...
    @property
    def component_idx(self) -> Optional[int]: ...
    def __hash__(self) -> int: ...

@final
class Btf:
    @staticmethod
    def from_bytes(
        data: Union[bytes, bytearray, memoryview], base: Optional[Btf] = None
    ) -> Btf: ...
    @staticmethod
    def from_file(path: _PathLike, base: Optional[Btf] = None) -> Btf: ...
    @staticmethod
    def vmlinux(path: Optional[_PathLike] = None) -> Btf: ...
    def __len__(self) -> int: ...
    def __getitem__(self, key: int, /) -> Type: ...
    def __iter__(self) -> Iterator[Type]: ...
    def find(self, name: str, kind: Optional[str] = None) -> Optional[Type]: ...
    def find_all(self, name: str, kind: Optional[str] = None) -> List[Type]: ...
    def validate(
        self, level: Literal["strict", "module"] = "strict", wide: bool = False
    ) -> None: ...
    def to_bytes(self, byteorder: Optional[_ByteOrder] = None) -> bytes: ...
    def dump(self, format: Literal["raw", "json"] = "raw") -> str: ...
    def dump_bytes(self) -> bytes: ...
    def string_at(self, offset: int) -> str: ...
    @property
    def byteorder(self) -> Literal["little", "big"]: ...
    @property
    def start_id(self) -> int: ...
    @property
    def start_str_off(self) -> int: ...
    @property
    def nr_types(self) -> int: ...
    @property
    def last_id(self) -> int: ...
    @property
    def is_split(self) -> bool: ...
    @property
    def base(self) -> Optional[Btf]: ...
    @property
    def header(self) -> _Header: ...

@final
class BaseIndex:
    def __new__(cls, base: Btf) -> BaseIndex: ...
    @property
    def base(self) -> Btf: ...

@final
class BaseMap:
    def __new__(cls, old_base: Btf, new_base: Btf) -> BaseMap: ...
    def __getitem__(self, key: int, /) -> int: ...
    def __len__(self) -> int: ...
    @property
    def mapped(self) -> int: ...
    def to_list(self) -> List[int]: ...

@final
class RebaseResult:
    @property
    def btf(self) -> Btf: ...
    @property
    def id_map(self) -> List[int]: ...
    @property
    def str_map(self) -> dict[int, int]: ...
    def to_bytes(self) -> bytes: ...

@final
class Equivalence:
    @property
    def equivalent(self) -> bool: ...
    @property
    def difference(self) -> Optional[str]: ...
    def __bool__(self) -> bool: ...

def rebase(
    standalone: Union[Btf, bytes, bytearray, memoryview],
    base: Union[Btf, BaseIndex],
    mode: Literal["dedup", "shift"] = "dedup",
) -> RebaseResult: ...
def detach_btf(split: Btf, base: Optional[Btf] = None) -> RebaseResult: ...
def retarget_btf(
    split: Btf,
    old_base: Optional[Btf],
    new_base: Union[Btf, BaseIndex],
    *,
    base_map: Optional[BaseMap] = None,
) -> RebaseResult: ...
def equivalent(
    a: Btf,
    b: Btf,
    a_base: Optional[Btf] = None,
    b_base: Optional[Btf] = None,
    *,
    exact: bool = True,
    id_map: Optional[List[int]] = None,
) -> Equivalence: ...

# .BTF_ids (btfx.BtfIds builds on these)
_EntryTuple = Tuple[Any, ...]

def btf_ids_parse(
    data: bytes,
) -> Optional[Tuple[bytes, bool, int, int, List[_EntryTuple]]]: ...
def btf_ids_check(elf: bytes, btf: Btf) -> List[Tuple[int, str, str]]: ...
def btf_ids_fixup(elf: bytes, id_map: Sequence[int]) -> Tuple[bytes, Tuple[int, int, int]]: ...

# module retargeting (btfx.retarget builds on these)
@final
class RetargetTarget:
    def __new__(
        cls, index: BaseIndex, old_base: Optional[Btf] = None, base_map: Optional[BaseMap] = None
    ) -> RetargetTarget: ...

def retarget_module_bytes(
    data: bytes,
    target: RetargetTarget,
    mode: str = "dedup",
    btf_ids: str = "fix",
    signature: str = "strip",
    compression: Optional[str] = None,
) -> Tuple[bytes, Dict[str, Any]]: ...
def retarget_files_native(
    jobs: Sequence[Tuple[str, str]],
    target: RetargetTarget,
    mode: str = "dedup",
    btf_ids: str = "fix",
    signature: str = "strip",
    compression: Optional[str] = None,
    threads: int = 0,
    progress: Optional[Callable[[int, Any], None]] = None,
) -> List[Any]: ...

# Module containers (btfx_core::module).
def module_open(data: bytes) -> tuple[bytes, str, Optional[bytes]]: ...
def compress(data: bytes, compression: str) -> bytes: ...
def elf_replace_sections(elf: bytes, replacements: dict[str, bytes]) -> bytes: ...
