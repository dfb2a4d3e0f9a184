"""Small builders of OpenAPI 3.0 schema objects, shared by the /v1 description."""


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    """null allowed too (OpenAPI 3.0's ``nullable``; a $ref is wrapped, as drf-spectacular does)."""
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    if "enum" in schema:
        schema = {**schema, "enum": [*schema["enum"], None]}
    return {**schema, "nullable": True}


def number(bounds: tuple[float, float], description: str) -> dict:
    low, high = bounds
    return nullable({"type": "number", "minimum": low, "maximum": high, "description": description})


def integer(low: int, high: int | None = None, description: str = "") -> dict:
    schema = {"type": "integer", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    if description:
        schema["description"] = description
    return nullable(schema)


def obj(properties: dict, required: tuple = (), **extra) -> dict:
    schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema
